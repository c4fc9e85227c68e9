using System.Diagnostics;
using Entrupy.Bench.Hosting;
using Entrupy.Fingerprinting;
using Entrupy.Inference;
using Entrupy.Native.Imaging;
using Entrupy.Native.Onnx;
using Entrupy.Registry.Inference;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Bench.Inference;

/// <summary>
/// Fingerprint extraction throughput through <see cref="IFingerprintExtractorGrain"/> (many parallel callers, one
/// capture per call, each batching strategy) beside <see cref="FingerprintEngine"/> called directly (one engine per
/// core: one capture per call, and batches of 32), same captures, same run. Each batching strategy has its own
/// in-process Orleans silo (<see cref="InferenceSiloBuilderExtensions.AddInferenceGrains"/>).
/// </summary>
public sealed class InferenceBenchmark : IBenchmark
{
    public string Name => "inference";

    public string Description => "captures/s through the extractor grain (parallel callers; per-call vs coalesced batching) vs FingerprintEngine directly";

    public async Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        var seconds = Option(args, "--seconds", args.Contains("--quick") ? 2.0 : 4.0);
        var rounds = (int)Option(args, "--rounds", args.Contains("--quick") ? 1 : 3);
        var callers = (int)Option(args, "--callers", 16);
        var perCall = (int)Option(args, "--images-per-call", 1);
        var maxBatch = (int)Option(args, "--max-batch", InferenceOptions.Default.MaxBatchSize);
        var workers = Environment.ProcessorCount;
        var model = FingerprintModel.LoadDefault();
        var captures = Fingerprinting.DevSetCaptures.CentreCrops(Path.Combine(context.RepoRoot, "models", "fingerprint", "devset", "images"), 256);
        context.Progress($"{captures.Count} captures 256x256, {workers} cores, {callers} callers x {perCall} capture(s) per call, " +
                         $"{rounds} round(s) of {seconds:0.#} s per figure (alternating, medians reported)");

        var engines = Enumerable.Range(0, workers).Select(_ => new FingerprintEngine(model, new OnnxSessionOptions { IntraOpThreads = 1 })).ToArray();
        var batch = FingerprintEngine.MaxBatchSize;
        var silos = new Dictionary<ExtractionBatching, BenchSilo>();
        foreach (var mode in new[] { ExtractionBatching.PerCall, ExtractionBatching.Coalesced })
            silos[mode] = await BenchSilo.StartAsync(silo => silo.AddInferenceGrains(new InferenceOptions { Batching = mode, MaxBatchSize = maxBatch }));

        var samples = new Dictionary<string, List<double>>();
        if (args.Contains("--batch-sweep"))
        {
            // One thread, one engine: CPU time per capture by batch size (does a bigger model run pay on this CPU?).
            // Warm-up first: tiered JIT would otherwise charge its compilation to the first sizes measured.
            for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 2;)
                engines[0].ExtractBatch(captures.Take(4).Select(c => (ReadOnlyMemory<byte>)c).ToArray(), FingerprintPurpose.Probe);
            // Down then up, averaged per size, so a drift in machine load does not favour either end.
            foreach (var size in new[] { 32, 16, 8, 4, 2, 1, 1, 2, 4, 8, 16, 32 })
            {
                var input = captures.Take(size).Select(c => (ReadOnlyMemory<byte>)c).ToArray();
                engines[0].ExtractBatch(input, FingerprintPurpose.Probe);
                var cpu0 = CpuSeconds();
                var clock = Stopwatch.StartNew();
                long n = 0;
                while (clock.Elapsed.TotalSeconds < seconds / 2)
                {
                    engines[0].ExtractBatch(input, FingerprintPurpose.Probe);
                    n += size;
                }
                var perCapture = (CpuSeconds() - cpu0) * 1000 / n;
                context.Progress($"batch {size}: {perCapture:0.000} ms CPU per capture");
                (samples.TryGetValue($"sweep{size}", out var l) ? l : samples[$"sweep{size}"] = []).Add(perCapture);
            }
        }
        // What a call's result costs to hand back within the silo: Orleans deep-copies it, and our contract types are
        // copied by a JSON round trip (the fingerprint record and the global vector as JSON text).
        var (copyMs, copyBytes) = await MeasureResultCopy(silos[ExtractionBatching.PerCall], captures);
        context.Progress($"one extraction result: {copyBytes:N0} bytes through the JSON codec, deep copy {copyMs:0.000} ms");
        void Add(string key, double value) => (samples.TryGetValue(key, out var l) ? l : samples[key] = []).Add(value);
        try
        {
            // Rounds alternate the contenders so a change in machine load hits all of them alike.
            for (var round = 0; round < rounds; round++)
            {
                var cpu = CpuSeconds();
                var (single, singleDone) = MeasureParallel(workers, seconds, w =>
                {
                    engines[w].Extract(captures[Random.Shared.Next(captures.Count)], FingerprintPurpose.Probe);
                    return 1;
                });
                Add("engine_single_captures_per_s", single);
                Add("engine_single_captures_per_cpu_s", singleDone / (CpuSeconds() - cpu));
                cpu = CpuSeconds();
                var (batched, batchedDone) = MeasureParallel(workers, seconds, w =>
                {
                    var start = Random.Shared.Next(captures.Count - batch);
                    var input = new ReadOnlyMemory<byte>[batch];
                    for (var i = 0; i < batch; i++) input[i] = captures[start + i];
                    engines[w].ExtractBatch(input, FingerprintPurpose.Probe);
                    return batch;
                });
                Add("engine_batch32_captures_per_s", batched);
                Add("engine_batch32_captures_per_cpu_s", batchedDone / (CpuSeconds() - cpu));
                context.Progress($"round {round + 1}: engine one capture per call {single:0}/s, batches of {batch} {batched:0}/s");
                foreach (var (mode, silo) in silos)
                {
                    var (rate, perCpu, p50, p99, meanBatch) = await MeasureGrain(silo, captures, callers, perCall, seconds);
                    var key = mode == ExtractionBatching.PerCall ? "grain_per_call" : "grain_coalesced";
                    context.Progress($"round {round + 1}: grain {mode} {rate:0}/s, call p50 {p50:0.0} ms p99 {p99:0.0} ms, mean batch {meanBatch:0.0}");
                    Add(key + "_captures_per_s", rate);
                    Add(key + "_captures_per_cpu_s", perCpu);
                    Add(key + "_call_p50_ms", p50);
                    Add(key + "_call_p99_ms", p99);
                    Add(key + "_mean_batch", meanBatch);
                }
            }
        }
        finally
        {
            foreach (var e in engines) e.Dispose();
            foreach (var silo in silos.Values) await silo.DisposeAsync();
        }

        var figures = new Dictionary<string, object?>
        {
            ["model"] = $"{model.Id} {model.Version}",
            ["cores"] = workers,
            ["callers"] = callers,
            ["captures_per_call"] = perCall,
            ["rounds"] = rounds,
            ["max_batch"] = maxBatch,
        };
        var sweep = samples.Keys.Where(k => k.StartsWith("sweep", StringComparison.Ordinal)).ToList();
        if (sweep.Count > 0)
            figures["engine_cpu_ms_per_capture_by_batch"] = sweep.ToDictionary(k => k["sweep".Length..], k => Math.Round(samples[k].Average(), 3));
        foreach (var k in sweep) samples.Remove(k);
        foreach (var (key, values) in samples) figures[key] = Math.Round(values.Order().ElementAt(values.Count / 2), 2);
        figures["runtime"] = "Microsoft Orleans " + BenchSilo.OrleansVersion;
        figures["result_json_codec_bytes"] = copyBytes;
        figures["result_deep_copy_ms"] = Math.Round(copyMs, 3);
        figures["coalesced_over_per_call"] = Math.Round(Median(samples["grain_coalesced_captures_per_s"]) / Median(samples["grain_per_call_captures_per_s"]), 3);
        figures["grain_best_over_engine_batch32"] = Math.Round(
            Math.Max(Median(samples["grain_coalesced_captures_per_s"]), Median(samples["grain_per_call_captures_per_s"])) / Median(samples["engine_batch32_captures_per_s"]), 3);
        figures["default_batching"] = InferenceOptions.Default.Batching.ToString();
        figures["load_average_1min"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : null;
        return figures;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>CPU time of this process so far: captures per CPU-second stays comparable when other work shares the machine.</summary>
    private static double CpuSeconds()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds;
    }

    private static async Task<(double Rate, double PerCpuSecond, double P50, double P99, double MeanBatch)> MeasureGrain(
        BenchSilo silo, List<byte[]> captures, int callers, int perCall, double seconds)
    {
        var grain = silo.GrainFactory.GetGrain<IFingerprintExtractorGrain>(0);
        var queue = silo.Services.GetRequiredService<CaptureBatchQueue>();
        // Warm-up: every worker activation gets its session before the clock starts.
        await Task.WhenAll(Enumerable.Range(0, callers).Select(c => grain.Extract(Pick(captures, c, perCall), FingerprintUse.Probe)));
        long runs0 = queue.Runs, captured0 = queue.CapturesRun, done = 0;
        var latencies = new List<double>[callers];
        var cpu = CpuSeconds();
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            var mine = latencies[c] = [];
            long n = 0;
            for (var k = 0; sw.Elapsed.TotalSeconds < seconds; k++)
            {
                var started = sw.Elapsed.TotalMilliseconds;
                var results = await grain.Extract(Pick(captures, c * 7919 + k, perCall), FingerprintUse.Probe);
                mine.Add(sw.Elapsed.TotalMilliseconds - started);
                if (results.Any(r => r.Fingerprint is null)) throw new InvalidOperationException("a benchmark capture was rejected");
                n += results.Length;
            }
            Interlocked.Add(ref done, n);
        })));
        var elapsed = sw.Elapsed.TotalSeconds;
        var rate = done / elapsed;
        var perCpu = done / (CpuSeconds() - cpu);
        var all = latencies.SelectMany(l => l).Order().ToArray();
        var runs = queue.Runs - runs0;
        var meanBatch = runs == 0 ? perCall : (double)(queue.CapturesRun - captured0) / runs;
        return (rate, perCpu, all[all.Length / 2], all[(int)(all.Length * 0.99)], meanBatch);
    }

    /// <summary>Mean time of Orleans' deep copy of one capture's result (what an in-silo call pays for it) and its serialized size.</summary>
    private static async Task<(double Milliseconds, int Bytes)> MeasureResultCopy(BenchSilo silo, List<byte[]> captures)
    {
        var result = (await silo.GrainFactory.GetGrain<IFingerprintExtractorGrain>(0).Extract([captures[0]], FingerprintUse.Probe))[0];
        var copier = silo.Services.GetRequiredService<Orleans.Serialization.DeepCopier<ExtractionResult>>();
        var bytes = silo.Services.GetRequiredService<Orleans.Serialization.Serializer>().SerializeToArray(result).Length;
        for (var i = 0; i < 20; i++) copier.Copy(result);
        const int copies = 200;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < copies; i++) copier.Copy(result);
        return (clock.Elapsed.TotalMilliseconds / copies, bytes);
    }

    private static byte[][] Pick(List<byte[]> captures, int seed, int count) =>
        Enumerable.Range(0, count).Select(i => captures[(int)((uint)(seed + i) % (uint)captures.Count)]).ToArray();

    private static (double Rate, long Done) MeasureParallel(int workers, double seconds, Func<int, int> work)
    {
        for (var w = 0; w < workers; w++) work(w); // warm-up
        long done = 0;
        var sw = Stopwatch.StartNew();
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            long n = 0;
            while (sw.Elapsed.TotalSeconds < seconds) n += work(w);
            Interlocked.Add(ref done, n);
        });
        return (done / sw.Elapsed.TotalSeconds, done);
    }

    private static double Option(string[] args, string name, double fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    }
}
