using System.Diagnostics;
using System.Globalization;
using Entrupy.Bench.Hosting;
using Entrupy.Persistence.AzureStorage;
using Entrupy.Persistence.Sqlite;
using Entrupy.Storage;
using Orleans.Storage;

namespace Entrupy.Bench.Azure;

/// <summary>
/// <c>bench/run azure-storage</c>: raw grain-state writes per second with N concurrent writers, each updating its own
/// record with the ETag of its previous write (what a grain does), through the default <see cref="IGrainStorage"/> of an
/// in-process Orleans silo: Orleans' Azure Blob grain storage on Azurite (set up by
/// <see cref="AzureBlobGrainStorageHostingExtensions.AddAzureBlobGrainStorageAsDefault"/>, as the silo does with
/// <c>--Storage:Provider=azure</c>), and the same load on our <see cref="SqliteGrainStorage"/> for scale. Records are
/// raw bytes (<see cref="RecordStore"/>), as journals and fingerprint records are stored.
/// </summary>
public sealed class AzureStorageBenchmark : IBenchmark
{
    public string Name => "azure-storage";

    public string Description =>
        "grain state writes/s, Azure Blob provider on Azurite vs SQLite provider " +
        "[--writers 64 --seconds 10 --warmup 2 --bytes 1024 --connection-string CS (default: start azurite/start.sh) --no-sqlite]";

    public async Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        var o = Options.Parse(args);
        var figures = new Dictionary<string, object?>
        {
            ["writers"] = o.Writers,
            ["seconds"] = o.Seconds,
            ["state_bytes"] = o.Bytes,
        };

        var dir = Directory.CreateTempSubdirectory("entrupy-azure-bench-");
        try
        {
            await using (var target = await AzuriteTarget.StartAsync(context, o.ConnectionString, Path.Combine(dir.FullName, "azurite")))
            {
                figures["azure_target"] = target.Description;
                var container = "bench-" + Guid.NewGuid().ToString("N")[..12];
                await using var azure = await BenchSilo.StartAsync(silo => silo.AddAzureBlobGrainStorageAsDefault(target.ConnectionString, container));
                context.Progress($"azure: {o.Writers} writers for {o.Seconds} s (after {o.Warmup} s warm-up)");
                Add(figures, "azure", await MeasureAsync(azure.Services.GetRecordStore(), o));
            }

            if (!o.NoSqlite)
            {
                await using var sqlite = await BenchSilo.StartAsync(silo => silo.Services.AddSqliteGrainStorageAsDefault(Path.Combine(dir.FullName, "bench.db")));
                context.Progress($"sqlite: {o.Writers} writers for {o.Seconds} s (after {o.Warmup} s warm-up)");
                Add(figures, "sqlite", await MeasureAsync(sqlite.Services.GetRecordStore(), o));
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }

        return figures;
    }

    private static void Add(Dictionary<string, object?> figures, string prefix, Result r)
    {
        figures[$"{prefix}_writes_per_s"] = Math.Round(r.Writes / r.Seconds, 1);
        figures[$"{prefix}_writes"] = r.Writes;
        figures[$"{prefix}_latency_p50_ms"] = Math.Round(r.P50Ms, 2);
        figures[$"{prefix}_latency_p99_ms"] = Math.Round(r.P99Ms, 2);
        figures[$"{prefix}_errors"] = r.Errors;
    }

    private sealed record Result(long Writes, double Seconds, double P50Ms, double P99Ms, long Errors);

    private static async Task<Result> MeasureAsync(RecordStore storage, Options o)
    {
        var payload = new byte[o.Bytes];
        new Random(42).NextBytes(payload);
        var grainType = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var etags = new string?[o.Writers];

        // Warm-up: connections, JIT, container creation; its writes are not counted.
        await RunPhaseAsync(TimeSpan.FromSeconds(o.Warmup), latencies: null);

        var perWriter = Enumerable.Range(0, o.Writers).Select(_ => new List<double>(4096)).ToArray();
        var clock = Stopwatch.StartNew();
        var errors = await RunPhaseAsync(TimeSpan.FromSeconds(o.Seconds), perWriter);
        var seconds = clock.Elapsed.TotalSeconds;

        var all = perWriter.SelectMany(l => l).Order().ToArray();
        return new Result(all.Length, seconds, Percentile(all, 0.50), Percentile(all, 0.99), errors);

        async Task<long> RunPhaseAsync(TimeSpan duration, List<double>[]? latencies)
        {
            var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            long failures = 0;
            await Task.WhenAll(Enumerable.Range(0, o.Writers).Select(w => Task.Run(async () =>
            {
                var key = new RecordKey(grainType, "writer-" + w.ToString(CultureInfo.InvariantCulture), "state");
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        etags[w] = await storage.WriteAsync(key, payload, etags[w]);
                        latencies?[w].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                    catch (Exception ex) when (ex is StorageUnavailableException or InconsistentStateException or global::Azure.RequestFailedException)
                    {
                        Interlocked.Increment(ref failures);
                        etags[w] = (await storage.ReadAsync(key))?.ETag;
                    }
                }
            })));
            return failures;
        }
    }

    private static double Percentile(double[] sorted, double p)
        => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(p * sorted.Length))];

    private sealed record Options(int Writers, int Seconds, int Warmup, int Bytes, string? ConnectionString, bool NoSqlite)
    {
        public static Options Parse(string[] args)
        {
            var o = new Options(64, 10, 2, 1024, Environment.GetEnvironmentVariable("AZURE_STORAGE_CONNECTION_STRING"), false);
            for (var a = new BenchArguments(args); a.MoveNext();)
            {
                o = a.Option switch
                {
                    "--writers" => o with { Writers = a.Int() },
                    "--seconds" => o with { Seconds = a.Int() },
                    "--warmup" => o with { Warmup = a.Int() },
                    "--bytes" => o with { Bytes = a.Int() },
                    "--connection-string" => o with { ConnectionString = a.Text() },
                    "--no-sqlite" => o with { NoSqlite = true },
                    _ => throw a.Unknown(),
                };
            }

            return o;
        }
    }
}
