using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Entrupy.Fingerprinting;
using Entrupy.Native.Onnx;

namespace Entrupy.Bench.Registry;

/// <summary>
/// <c>bench/run registry</c> (issue #5), end to end through HTTP on one silo process on SQLite:
/// (a) registrations/s beside the fingerprint model's own ORT throughput measured in the same run (target ≥ 70 %);
/// (b) 1:1 compare latency at a steady, open-loop 100 requests/s (target p99 ≤ 15 ms);
/// (c) 1:N trace queries/s and recall@1 with N registered items.
/// </summary>
public sealed class RegistryBenchmark : IBenchmark
{
    // Vectors a registration adds to the index with the silo's defaults (RegistryOptions.IndexSteeredViews), and the
    // bytes a value takes there (half floats, ShardIndex).
    private const int IndexViewsPerItem = 3;
    private const int IndexBytesPerValue = 2;

    public string Name => "registry";

    public string Description =>
        "HTTP registrations/s vs the model's own throughput, compare p50/p99 at a paced 100 req/s, trace q/s + recall@1 " +
        "[--items 300 --concurrency 2xcores --rate 100 --paced-seconds 10 --trace-queries 200 --seed 11 --max-side 512 " +
        "--dataset DIR --silo-dll PATH --store sqlite|memory --compare-log FILE --warm-up W --quick]";

    public async Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        var o = Options.Parse(args);
        var figures = new Dictionary<string, object?>
        {
            ["store"] = $"{o.Store} (one silo process, HTTP on 127.0.0.1)",
            ["items"] = o.Items,
            ["concurrency"] = o.Concurrency,
            ["seed"] = o.Seed,
        };
        var siloDll = SiloUnderTest.FindSiloDll(context, o.SiloDll);
        var set = await CaptureSet.LoadOrCreateAsync(context, o.Items, o.Seed, o.MaxSide, o.Dataset);
        figures["captures"] = $"make_dataset.py --items {o.Items} --probes-per-item 1 --seed {o.Seed} --max-size {o.MaxSide}";

        // The model's own throughput first, while the silo is not running: the ceiling registrations are measured against.
        var model = FingerprintModel.LoadDefault();
        figures["model"] = $"{model.Id} {model.Version}";
        var modelPerSecond = MeasureModelThroughput(model, TimeSpan.FromSeconds(o.Quick ? 2 : 5));
        context.Progress($"model alone: {modelPerSecond:0.0} images/s (ORT, {Environment.ProcessorCount} single-threaded sessions, batch {FingerprintEngine.MaxBatchSize})");
        figures["model_images_per_s"] = Math.Round(modelPerSecond, 1);
        // The whole embedding pipeline (decode → quality → model → enrolment record), the most a registration can reach.
        var enginePerSecond = MeasureEnrolmentThroughput(model, set.Enrolments, TimeSpan.FromSeconds(o.Quick ? 2 : 5));
        context.Progress($"embedding pipeline alone: {enginePerSecond:0.0} enrolment captures/s (FingerprintEngine.ExtractBatch, same captures)");
        figures["engine_enrolments_per_s"] = Math.Round(enginePerSecond, 1);

        var data = Directory.CreateTempSubdirectory("entrupy-registry-bench-");
        try
        {
            var db = Path.Combine(data.FullName, "registry.db");
            await using var silo = await SiloUnderTest.StartAsync(siloDll, [$"--Storage:Provider={o.Store}", $"--Storage:Sqlite:Path={db}"], TimeSpan.FromSeconds(120));
            await silo.CreateTenantAsync("bench-registry");

            // (a) Registrations. A warm-up first, in a tenant of its own with the same captures (so the timed run
            // registers all N items and no trace ever meets a warm-up copy): tiered JIT recompiles hot paths for the
            // first several hundred requests, which a silo in service has long finished. `registration_jit_ms` shows
            // what compiling still cost in the timed run.
            var warmup = Math.Min(o.WarmUp ?? (o.Quick ? o.Items : 1000), o.Items);
            var warmTenant = await silo.AddTenantAsync("bench-registry-warm-up");
            var warm = await RegistryLoad.RegisterAsync(warmTenant, set, 0, warmup, o.Concurrency, "warm");
            if (warm.Failed > 0) throw new InvalidOperationException("warm-up registration failed: " + warm.FirstError + "\n" + silo.RecentLog);
            figures["registration_warm_up"] = warmup;
            context.Progress($"registering {o.Items} items, {o.Concurrency} concurrent callers (after {warmup} warm-up registrations in another tenant)");
            var beforeRegistrations = await silo.ReadRuntimeAsync();
            var run = await RegistryLoad.RegisterAsync(silo.Tenant, set, 0, o.Items, o.Concurrency, "bench");
            (await silo.ReadRuntimeAsync())?.AddTo(figures, "registration", beforeRegistrations, o.Items);
            if (run.Failed > 0) context.Progress($"{run.Failed} registrations failed; first: {run.FirstError}");
            figures["registrations_per_s"] = Math.Round(run.PerSecond, 1);
            figures["registrations_failed"] = run.Failed;
            run.Latency.AddTo(figures, "registration_latency");
            figures["ratio_registrations_over_model"] = Math.Round(run.PerSecond / modelPerSecond, 3);
            figures["ratio_registrations_over_engine"] = Math.Round(run.PerSecond / enginePerSecond, 3);
            figures["target_ratio_registrations_over_model"] = 0.70;
            var storeBytes = Directory.EnumerateFiles(data.FullName).Sum(f => new FileInfo(f).Length);
            var durable = o.Store != "memory";
            figures["store_bytes_per_item"] = durable ? storeBytes / o.Items : null;
            figures["store_gb_projected_at_100000_items"] = durable ? Math.Round(storeBytes / (double)o.Items * 100_000 / 1e9, 1) : null;
            figures["index_gb_at_100000_items"] = Math.Round(100_000.0 * IndexViewsPerItem * model.GlobalVectorLength * IndexBytesPerValue / 1e9, 2);
            context.Progress($"registrations: {run.PerSecond:0.0}/s (p50 {run.Latency.P50} ms, p99 {run.Latency.P99} ms); store {storeBytes / 1e6:0} MB");

            // (b) 1:1 compare at a steady rate, open loop: genuine probes against their own item.
            // Untimed warm-up at the same rate first: tiered JIT and the fingerprint-set caches settle before measuring.
            await RegistryLoad.PacedAsync(o.Rate, TimeSpan.FromSeconds(o.Quick ? 1 : 3), async i =>
            {
                var (itemId, image) = set.Probes[i % set.Probes.Length];
                using var request = RegistryLoad.Post($"/items/{itemId}/compare", image, $"compare-warm-{i}");
                return await silo.Tenant.SendAsync(request);
            }, HttpStatusCode.OK);
            context.Progress($"compare: {o.Rate} requests/s for {o.PacedSeconds} s, open loop");
            var matches = 0;
            var compareServer = new ServerTimingLog();
            using var compareLog = o.CompareLog is null ? null : new RequestLog(o.CompareLog);
            var beforeCompares = await silo.ReadRuntimeAsync();
            var clientPausedBefore = GC.GetTotalPauseDuration();
            var paced = await RegistryLoad.PacedAsync(o.Rate, TimeSpan.FromSeconds(o.PacedSeconds), async i =>
            {
                var (itemId, image) = set.Probes[i % set.Probes.Length];
                using var request = RegistryLoad.Post($"/items/{itemId}/compare", image, $"compare-{i}");
                var response = await silo.Tenant.SendAsync(request);
                compareServer.Add(response);
                compareLog?.Add(i, itemId, image, response);
                if (response.StatusCode == HttpStatusCode.OK && (await RegistryLoad.JsonAsync(response)).GetProperty("match").GetBoolean())
                    Interlocked.Increment(ref matches);
                return response;
            }, HttpStatusCode.OK);
            figures["compare_rate_per_s"] = o.Rate;
            figures["compare_achieved_per_s"] = Math.Round(paced.AchievedPerSecond, 1);
            paced.Latency.AddTo(figures, "compare_latency");
            figures["compare_errors"] = paced.Errors;
            figures["compare_genuine_match_rate"] = paced.Latency.Count == 0 ? null : Math.Round(matches / (double)paced.Latency.Count, 3);
            figures["target_compare_p99_ms"] = 15;
            // Where the time went: the silo's stages (Server-Timing) and how late this client sent (its own scheduling).
            compareServer.AddTo(figures, "compare_server");
            (await silo.ReadRuntimeAsync())?.AddTo(figures, "compare", beforeCompares, paced.Latency.Count);
            figures["compare_send_lateness_p99_ms"] = paced.SendLateness.P99;
            // This process's own collections: a pause here delays answers being read, and counts in the latencies.
            figures["compare_client_gc_pause_ms"] = Math.Round((GC.GetTotalPauseDuration() - clientPausedBefore).TotalMilliseconds, 1);
            if (paced.FirstError is not null) context.Progress("first compare error: " + paced.FirstError);
            context.Progress($"compare: p50 {paced.Latency.P50} ms, p99 {paced.Latency.P99} ms, {paced.Errors} errors; " +
                             $"server p50/p99 ms: {compareServer.Describe()}; sent late by p99 {paced.SendLateness.P99} ms");

            // (c) 1:N trace with every item registered: queries/s (closed loop) and recall@1.
            var queries = Math.Min(o.TraceQueries, set.Probes.Length);
            context.Progress($"trace: {queries} queries over {o.Items} items, {o.Concurrency} concurrent callers");
            var traceLatencies = new double[queries];
            var hits = 0;
            var traceErrors = 0;
            var falseMatches = 0;
            var noMatches = 0;
            var next = -1;
            // Untimed warm-up of the trace path (JIT), with the callers of the timed run, on the last probes of the set.
            var warmTraces = Math.Min(o.Quick ? 20 : 100, set.Probes.Length);
            var nextWarm = -1;
            await Task.WhenAll(Enumerable.Range(0, o.Concurrency).Select(_ => Task.Run(async () =>
            {
                for (var w = Interlocked.Increment(ref nextWarm); w < warmTraces; w = Interlocked.Increment(ref nextWarm))
                {
                    using var warmRequest = RegistryLoad.Post("/trace?top=5", set.Probes[^(w + 1)].Image, $"trace-warm-{w}");
                    using var _ = await silo.Tenant.SendAsync(warmRequest);
                }
            })));
            var beforeTraces = await silo.ReadRuntimeAsync();
            var traceServer = new ServerTimingLog();
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, o.Concurrency).Select(_ => Task.Run(async () =>
            {
                for (var i = Interlocked.Increment(ref next); i < queries; i = Interlocked.Increment(ref next))
                {
                    var (itemId, image) = set.Probes[i];
                    var started = Stopwatch.GetTimestamp();
                    using var request = RegistryLoad.Post("/trace?top=5", image, $"trace-{i}");
                    using var response = await silo.Tenant.SendAsync(request);
                    traceLatencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    traceServer.Add(response);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref traceErrors);
                        continue;
                    }
                    var answer = await RegistryLoad.JsonAsync(response);
                    var candidates = answer.GetProperty("candidates");
                    if (candidates.GetArrayLength() > 0 && candidates[0].GetProperty("customer_item_id").GetString() == itemId)
                        Interlocked.Increment(ref hits);
                    // How a query that is not a hit fails: another item declared a match, or no match at all.
                    if (answer.TryGetProperty("match", out var match) && match.ValueKind == JsonValueKind.Object)
                    {
                        if (match.GetProperty("customer_item_id").GetString() != itemId) Interlocked.Increment(ref falseMatches);
                    }
                    else Interlocked.Increment(ref noMatches);
                }
            })));
            var traceSeconds = clock.Elapsed.TotalSeconds;
            traceServer.AddTo(figures, "trace_server");
            var afterTraces = await silo.ReadRuntimeAsync();
            afterTraces?.AddTo(figures, "trace", beforeTraces, queries);
            afterTraces?.AddMemoryTo(figures); // with every item registered (twice: the warm-up tenant) and compared
            figures["trace_queries"] = queries;
            figures["trace_queries_per_s"] = Math.Round(queries / traceSeconds, 1);
            LatencySummary.Of(traceLatencies).AddTo(figures, "trace_latency");
            figures["trace_recall_at_1"] = Math.Round(hits / (double)queries, 4);
            figures["trace_false_match_rate"] = Math.Round(falseMatches / (double)queries, 4);
            figures["trace_no_match_rate"] = Math.Round(noMatches / (double)queries, 4);
            figures["trace_errors"] = traceErrors;
            figures["trace_target_items"] = 100_000;
            context.Progress($"trace: {queries / traceSeconds:0.0} q/s, recall@1 {hits / (double)queries:0.000}");
        }
        finally
        {
            data.Delete(recursive: true);
        }

        return figures;
    }

    /// <summary>Enrolment captures/s through <see cref="FingerprintEngine.ExtractBatch"/> (batches of 32) on the given captures.</summary>
    internal static double MeasureEnrolmentThroughput(FingerprintModel model, byte[][] captures, TimeSpan duration)
    {
        using var engine = new FingerprintEngine(model);
        var batch = captures.Take(FingerprintEngine.MaxBatchSize).Select(c => (ReadOnlyMemory<byte>)c).ToArray();
        engine.ExtractBatch(batch, FingerprintPurpose.Enrolment); // warm-up
        long images = 0;
        var clock = Stopwatch.StartNew();
        for (var offset = 0; clock.Elapsed < duration; offset = (offset + batch.Length) % captures.Length)
        {
            var slice = Enumerable.Range(0, batch.Length).Select(i => (ReadOnlyMemory<byte>)captures[(offset + i) % captures.Length]).ToArray();
            images += engine.ExtractBatch(slice, FingerprintPurpose.Enrolment).Count;
        }
        return images / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Raw ORT images/s at the model's input size: one single-threaded session per core, full batches.</summary>
    internal static double MeasureModelThroughput(FingerprintModel model, TimeSpan duration)
    {
        var workers = Environment.ProcessorCount;
        var options = new OnnxSessionOptions { IntraOpThreads = 1, InterOpThreads = 1 };
        var sessions = Enumerable.Range(0, workers).Select(_ => OnnxSession.FromFile(model.OnnxPath, options)).ToArray();
        try
        {
            var batch = FingerprintEngine.MaxBatchSize;
            var size = model.Config.InputSize;
            var input = new float[batch * size * size];
            for (var i = 0; i < input.Length; i++) input[i] = (i * 7919 % 256) / 255f;
            var inputName = sessions[0].Inputs[0].Name;
            void Run(int w) => sessions[w].Run(new Dictionary<string, OnnxTensor> { [inputName] = new OnnxTensor(input, [batch, 1, size, size]) });
            for (var w = 0; w < workers; w++) Run(w); // warm-up
            long images = 0;
            var clock = Stopwatch.StartNew();
            Parallel.For(0, workers, w =>
            {
                long n = 0;
                while (clock.Elapsed < duration)
                {
                    Run(w);
                    n += batch;
                }
                Interlocked.Add(ref images, n);
            });
            return images / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            foreach (var s in sessions) s.Dispose();
        }
    }

    private sealed record Options(int Items, int Concurrency, int Rate, int PacedSeconds, int TraceQueries, int Seed, int MaxSide,
        string? Dataset, string? SiloDll, bool Quick, string Store = "sqlite", string? CompareLog = null, int? WarmUp = null)
    {
        public static Options Parse(string[] args)
        {
            var o = new Options(300, 2 * Environment.ProcessorCount, 100, 10, 200, 11, 512, null, null, false);
            if (args.Contains("--quick")) o = o with { Items = 60, PacedSeconds = 4, TraceQueries = 60, Quick = true };
            for (var a = new BenchArguments(args); a.MoveNext();)
            {
                o = a.Option switch
                {
                    "--items" => o with { Items = a.Int() },
                    "--concurrency" => o with { Concurrency = a.Int() },
                    "--rate" => o with { Rate = a.Int() },
                    "--paced-seconds" => o with { PacedSeconds = a.Int() },
                    "--trace-queries" => o with { TraceQueries = a.Int() },
                    "--seed" => o with { Seed = a.Int() },
                    "--max-side" => o with { MaxSide = a.Int() },
                    "--dataset" => o with { Dataset = a.Text() },
                    "--silo-dll" => o with { SiloDll = a.Text() },
                    "--store" => o with { Store = a.Text() },
                    "--compare-log" => o with { CompareLog = a.Text() },
                    "--warm-up" => o with { WarmUp = a.Int() },
                    "--quick" => o,
                    _ => throw a.Unknown(),
                };
            }
            if (o.Items < 10) throw new BenchOptionException("--items must be at least 10");
            if (o.WarmUp < 0) throw new BenchOptionException("--warm-up must be 0 or more");
            // memory: the same silo without durable writes, to show what the store costs (not a deployment option).
            if (o.Store is not ("sqlite" or "memory")) throw new BenchOptionException("--store must be sqlite or memory");
            return o;
        }
    }
}
