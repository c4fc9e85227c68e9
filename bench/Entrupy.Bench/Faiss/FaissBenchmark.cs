using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Entrupy.Native.Faiss;

namespace Entrupy.Bench.Faiss;

/// <summary>
/// <c>bench/run faiss</c>: our FAISS wrapper against Debian's python3-faiss on the same clustered vectors,
/// the same HNSW index and the same queries, in one run.
/// </summary>
public sealed class FaissBenchmark : IBenchmark
{
    public string Name => "faiss";

    public string Description =>
        "FAISS HNSW32 via our shim vs python3-faiss: build time, q/s one query per call and in batches, recall@10 " +
        "[--n 200000 --queries 10000 --d 128 --centres 1000 --spread 0.5 --index HNSW32 --ef-search 64 --batch 256 --threads CORES --seed 42 --rounds 3 --python /usr/bin/python3]";

    public async Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        var options = Options.Parse(args);
        var dir = Directory.CreateTempSubdirectory("entrupy-faiss-bench-");
        try
        {
            return await RunInAsync(options, context, dir.FullName);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task<Dictionary<string, object?>> RunInAsync(Options o, BenchContext context, string dir)
    {
        const int k = 10;
        context.Progress($"generating {o.N:N0} + {o.Queries:N0} vectors, d={o.D}, Gaussian mixture of {o.Centres} centres, seed {o.Seed}");
        var (database, queries) = GaussianMixture(o);
        var basePath = Path.Combine(dir, "base.f32");
        var queryPath = Path.Combine(dir, "queries.f32");
        await File.WriteAllBytesAsync(basePath, MemoryMarshal.AsBytes(database.AsSpan()).ToArray());
        await File.WriteAllBytesAsync(queryPath, MemoryMarshal.AsBytes(queries.AsSpan()).ToArray());
        var ids = new long[o.N];
        for (var i = 0; i < ids.Length; i++) ids[i] = i;

        FaissLibrary.ThreadCount = o.Threads;

        context.Progress("ground truth: exact Flat search");
        var clock = Stopwatch.StartNew();
        long[] truth;
        using (var exact = FaissIndex.Create(o.D, "Flat"))
        {
            exact.Add(database, ids);
            truth = exact.Search(queries, k).Ids.ToArray();
        }
        var truthSeconds = clock.Elapsed.TotalSeconds;

        context.Progress($"ours: building {o.Index} over {o.N:N0} vectors with {o.Threads} threads");
        var parameters = new FaissSearchParameters { EfSearch = o.EfSearch };
        using var index = FaissIndex.Create(o.D, o.Index);
        clock.Restart();
        index.Train(database);
        index.Add(database, ids);
        var buildSeconds = clock.Elapsed.TotalSeconds;
        context.Progress($"ours: built in {buildSeconds:F1} s");

        var found = new long[o.Queries * k];
        var distances = new float[o.Batch * k];
        var batchIds = new long[o.Batch * k];
        SingleQueryLoop(index, queries, o.D, found, distances, Math.Min(o.Warmup, o.Queries), parameters);

        context.Progress("theirs: python3-faiss builds the same index from the same files");
        await using var peer = await Peer.StartAsync(o, context, basePath, queryPath);
        context.Progress($"theirs: built in {peer.BuildSeconds:F1} s");

        // Interleave the two sides round by round and keep each side's best round: load from other
        // processes then hits both alike instead of whichever side happened to run during it.
        double oursSingle = 0, oursBatch = 0, theirsSingle = 0, theirsSingle1 = 0, theirsBatch = 0;
        for (var round = 1; round <= o.Rounds; round++)
        {
            oursSingle = Math.Max(oursSingle, SingleQueryLoop(index, queries, o.D, found, distances, o.Queries, parameters));
            theirsSingle = Math.Max(theirsSingle, await peer.MeasureAsync("single"));
            theirsSingle1 = Math.Max(theirsSingle1, await peer.MeasureAsync("single1"));
            oursBatch = Math.Max(oursBatch, BatchLoop(index, queries, o, distances, batchIds, parameters));
            theirsBatch = Math.Max(theirsBatch, await peer.MeasureAsync("batch"));
            context.Progress($"round {round}/{o.Rounds}: one query per call ours {oursSingle:F0} q/s, theirs {theirsSingle:F0} q/s " +
                             $"(1 OpenMP thread: {theirsSingle1:F0}); batches of {o.Batch} ours {oursBatch:F0} q/s, theirs {theirsBatch:F0} q/s");
        }
        var peerIds = await peer.ResultIdsAsync(Path.Combine(dir, "peer_ids.i64"));
        index.Dispose();

        var ours = new Dictionary<string, object?>
        {
            ["faiss_version"] = FaissLibrary.Version,
            ["build_s"] = Round(buildSeconds),
            ["qps_single"] = Round(oursSingle),
            [$"qps_batch{o.Batch}"] = Round(oursBatch),
            ["recall_at_10"] = Round(Recall(found, truth, k)),
        };
        var theirs = new Dictionary<string, object?>
        {
            ["faiss_version"] = peer.FaissVersion,
            ["build_s"] = Round(peer.BuildSeconds),
            ["qps_single"] = Round(theirsSingle),
            ["qps_single_omp1"] = Round(theirsSingle1),
            [$"qps_batch{o.Batch}"] = Round(theirsBatch),
            ["recall_at_10"] = Round(Recall(peerIds, truth, k)),
        };

        return new Dictionary<string, object?>
        {
            ["n"] = o.N,
            ["d"] = o.D,
            ["queries"] = o.Queries,
            ["k"] = k,
            ["index"] = o.Index,
            ["ef_search"] = o.EfSearch,
            ["data"] = $"Gaussian mixture, {o.Centres} centres, spread {o.Spread}, seed {o.Seed}",
            ["threads"] = $"{o.Threads} OpenMP threads on both sides (build, batches); one-query calls: ours run on the calling thread, " +
                          "python3-faiss opens its usual OpenMP region (theirs.qps_single_omp1: limited to 1 thread)",
            ["rounds"] = $"{o.Rounds} interleaved rounds, best round per figure",
            ["ground_truth_s"] = Round(truthSeconds),
            ["ours"] = ours,
            ["theirs"] = theirs,
            ["ratio"] = Round(oursSingle / theirsSingle),
            ["ratio_vs_omp1"] = Round(oursSingle / theirsSingle1),
            ["ratio_target"] = 0.95,
        };
    }

    private static double BatchLoop(FaissIndex index, float[] queries, Options o, float[] distances, long[] ids, FaissSearchParameters parameters)
    {
        const int k = 10;
        var clock = Stopwatch.StartNew();
        for (var start = 0; start < o.Queries; start += o.Batch)
        {
            var count = Math.Min(o.Batch, o.Queries - start);
            index.Search(queries.AsSpan(start * o.D, count * o.D), k, distances, ids, parameters);
        }
        return o.Queries / clock.Elapsed.TotalSeconds;
    }

    private static double SingleQueryLoop(FaissIndex index, float[] queries, int d, long[] found, float[] distances, int count, FaissSearchParameters parameters)
    {
        const int k = 10;
        var clock = Stopwatch.StartNew();
        for (var q = 0; q < count; q++)
            index.Search(queries.AsSpan(q * d, d), k, distances.AsSpan(0, k), found.AsSpan(q * k, k), parameters);
        return count / clock.Elapsed.TotalSeconds;
    }

    /// <summary>bench/faiss_peer.py as a child process holding its built index and answering commands on stdin.</summary>
    private sealed class Peer : IAsyncDisposable
    {
        private readonly Process process;

        private Peer(Process process, JsonElement ready)
        {
            this.process = process;
            FaissVersion = ready.GetProperty("faiss_version").GetString();
            BuildSeconds = ready.GetProperty("build_s").GetDouble();
        }

        public string? FaissVersion { get; }

        public double BuildSeconds { get; }

        public static async Task<Peer> StartAsync(Options o, BenchContext context, string basePath, string queryPath)
        {
            var script = Path.Combine(context.RepoRoot, "bench", "faiss_peer.py");
            var start = new ProcessStartInfo(o.Python) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
            foreach (var arg in new[]
                     {
                         script, "--base", basePath, "--queries", queryPath, "--d", Str(o.D), "--description", o.Index,
                         "--ef-search", Str(o.EfSearch), "--threads", Str(o.Threads), "--batch", Str(o.Batch), "--warmup", Str(o.Warmup),
                     })
                start.ArgumentList.Add(arg);
            var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {o.Python}");
            try
            {
                return new Peer(process, await ReadReplyAsync(process, script));
            }
            catch
            {
                process.Kill();
                process.Dispose();
                throw;
            }
        }

        public async Task<double> MeasureAsync(string command)
        {
            await process.StandardInput.WriteLineAsync(command);
            await process.StandardInput.FlushAsync();
            return (await ReadReplyAsync(process, command)).GetProperty("qps").GetDouble();
        }

        public async Task<long[]> ResultIdsAsync(string path)
        {
            await process.StandardInput.WriteLineAsync($"ids {path}");
            await process.StandardInput.FlushAsync();
            await ReadReplyAsync(process, "ids");
            return MemoryMarshal.Cast<byte, long>(await File.ReadAllBytesAsync(path)).ToArray();
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                await process.StandardInput.WriteLineAsync("quit");
                process.StandardInput.Close();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await process.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    process.Kill();
                }
            }
            process.Dispose();
        }

        private static async Task<JsonElement> ReadReplyAsync(Process process, string what)
        {
            var line = await process.StandardOutput.ReadLineAsync()
                       ?? throw new InvalidOperationException($"faiss_peer.py ended before answering '{what}' (is python3-faiss installed? see its stderr above)");
            var reply = JsonDocument.Parse(line).RootElement.Clone();
            if (reply.TryGetProperty("error", out var error)) throw new InvalidOperationException($"faiss_peer.py: {error.GetString()}");
            return reply;
        }
    }

    /// <summary>Centres ~ N(0, 1); each vector = a random centre + N(0, spread²) noise, so neighbourhoods are clustered.</summary>
    private static (float[] Database, float[] Queries) GaussianMixture(Options o)
    {
        var random = new Random(o.Seed);
        var centres = new float[o.Centres * o.D];
        FillGaussian(random, centres, 1f);
        float[] Draw(int count)
        {
            var data = new float[count * o.D];
            FillGaussian(random, data, o.Spread);
            for (var row = 0; row < count; row++)
            {
                var c = random.Next(o.Centres) * o.D;
                for (var j = 0; j < o.D; j++) data[row * o.D + j] += centres[c + j];
            }
            return data;
        }
        return (Draw(o.N), Draw(o.Queries));
    }

    private static void FillGaussian(Random random, float[] target, float scale)
    {
        // Box–Muller, both outputs used.
        for (var i = 0; i < target.Length; i += 2)
        {
            var radius = scale * Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble()));
            var angle = 2.0 * Math.PI * random.NextDouble();
            target[i] = (float)(radius * Math.Cos(angle));
            if (i + 1 < target.Length) target[i + 1] = (float)(radius * Math.Sin(angle));
        }
    }

    private static double Recall(long[] found, long[] truth, int k)
    {
        long hits = 0;
        for (var q = 0; q < truth.Length / k; q++)
        {
            var expected = truth.AsSpan(q * k, k);
            foreach (var id in found.AsSpan(q * k, k))
                if (expected.Contains(id)) hits++;
        }
        return (double)hits / truth.Length;
    }

    private static double Round(double value) => Math.Round(value, 4);

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

    private sealed record Options(int N, int Queries, int D, int Centres, float Spread, string Index, int EfSearch, int Batch, int Threads, int Seed, int Warmup, int Rounds, string Python)
    {
        public static Options Parse(string[] args)
        {
            var o = new Options(200_000, 10_000, 128, 1000, 0.5f, "HNSW32", 64, 256, Environment.ProcessorCount, 42, 200, 3, "/usr/bin/python3");
            for (var a = new BenchArguments(args); a.MoveNext();)
            {
                var option = a.Option;
                int Int() => a.Int() is var v && v > 0 ? v : throw new BenchOptionException($"{option} must be > 0");
                o = option switch
                {
                    "--n" => o with { N = Int() },
                    "--queries" => o with { Queries = Int() },
                    "--d" => o with { D = Int() },
                    "--centres" => o with { Centres = Int() },
                    "--spread" => o with { Spread = a.Float() },
                    "--index" => o with { Index = a.Text() },
                    "--ef-search" => o with { EfSearch = Int() },
                    "--batch" => o with { Batch = Int() },
                    "--threads" => o with { Threads = Int() },
                    "--seed" => o with { Seed = Int() },
                    "--warmup" => o with { Warmup = Int() },
                    "--rounds" => o with { Rounds = Int() },
                    "--python" => o with { Python = a.Text() },
                    _ => throw a.Unknown("; see bench/run --list"),
                };
            }
            return o;
        }
    }
}
