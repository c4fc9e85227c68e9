using System.Diagnostics;
using System.Globalization;
using System.Text;
using Entrupy.Persistence.Sqlite;
using Entrupy.Storage;
using Microsoft.Data.Sqlite;
using Orleans.Storage;

namespace Entrupy.Bench.Grains;

/// <summary>
/// Durable record writes per second through <see cref="SqliteStateStore"/> (the group-commit engine under
/// <see cref="SqliteGrainStorage"/>, raw bytes, no serializer), beside a naive
/// one-transaction-per-write store on the same disk in the same run. N grains each rewrite their own key in a loop,
/// awaiting every write (so each write is durable before the grain's next one), as grains calling WriteStateAsync do.
/// </summary>
public static class SqliteStorageBenchmark
{
    /// <summary>Runs both measurements and returns their figures (prefix <c>sqlite_</c>).</summary>
    /// <param name="ctx">Progress output.</param>
    /// <param name="grains">Concurrent writers, one key each.</param>
    /// <param name="seconds">Measured time of the group-commit run (after a warm-up).</param>
    /// <param name="baselineSeconds">Measured time of the naive run.</param>
    /// <param name="stateBytes">Size of each written state (a JSON-ish text payload).</param>
    /// <param name="directory">Where the database files go; a fresh temp folder when null (deleted afterwards).</param>
    public static async Task<Dictionary<string, object?>> MeasureAsync(
        BenchContext ctx, int grains = 64, double seconds = 5, double baselineSeconds = 3, int stateBytes = 256, string? directory = null)
    {
        var folder = directory ?? Path.Combine(Path.GetTempPath(), "entrupy-bench-sqlite-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            var payload = Encoding.UTF8.GetBytes("{\"state\":\"" + new string('x', Math.Max(0, stateBytes - 12)) + "\"}");

            ctx.Progress($"sqlite group commit: {grains} grains, {seconds:0.#} s");
            var storage = new SqliteStateStore(new SqliteGrainStorageOptions { DatabasePath = Path.Combine(folder, "group.db") });
            RunResult grouped;
            long commits;
            await using (storage)
            {
                await RunAsync(storage.WriteAsync, grains, payload, TimeSpan.FromSeconds(Math.Min(1, seconds / 4))); // warm-up
                var commitsBefore = storage.CommitCount;
                grouped = await RunAsync(storage.WriteAsync, grains, payload, TimeSpan.FromSeconds(seconds));
                commits = storage.CommitCount - commitsBefore;
            }

            ctx.Progress($"sqlite group commit: {grouped.WritesPerSecond:0} writes/s, {grouped.Writes / (double)Math.Max(1, commits):0.0} writes per commit");

            ctx.Progress($"sqlite naive (one transaction per write): {grains} grains, {baselineSeconds:0.#} s");
            RunResult naive;
            using (var baseline = new NaiveSqliteStore(Path.Combine(folder, "naive.db")))
            {
                await RunAsync(baseline.WriteAsync, grains, payload, TimeSpan.FromSeconds(Math.Min(0.5, baselineSeconds / 4)));
                naive = await RunAsync(baseline.WriteAsync, grains, payload, TimeSpan.FromSeconds(baselineSeconds));
            }

            ctx.Progress($"sqlite naive: {naive.WritesPerSecond:0} writes/s");
            return new Dictionary<string, object?>
            {
                ["sqlite_grains"] = grains,
                ["sqlite_state_bytes"] = payload.Length,
                ["sqlite_group_commit_writes_per_sec"] = Math.Round(grouped.WritesPerSecond),
                ["sqlite_group_commit_writes"] = grouped.Writes,
                ["sqlite_group_commit_commits"] = commits,
                ["sqlite_group_commit_writes_per_commit"] = Math.Round(grouped.Writes / (double)Math.Max(1, commits), 1),
                ["sqlite_group_commit_p50_ms"] = grouped.P50Milliseconds,
                ["sqlite_group_commit_p99_ms"] = grouped.P99Milliseconds,
                ["sqlite_naive_writes_per_sec"] = Math.Round(naive.WritesPerSecond),
                ["sqlite_naive_p50_ms"] = naive.P50Milliseconds,
                ["sqlite_naive_p99_ms"] = naive.P99Milliseconds,
                ["sqlite_group_commit_vs_naive"] = Math.Round(grouped.WritesPerSecond / Math.Max(1, naive.WritesPerSecond), 1),
                ["sqlite_target_writes_per_sec"] = 20_000,
                ["sqlite_meets_target"] = grouped.WritesPerSecond >= 20_000,
            };
        }
        finally
        {
            if (directory is null)
            {
                try { Directory.Delete(folder, recursive: true); }
                catch (IOException) { /* a leftover temp folder must not fail the benchmark */ }
            }
        }
    }

    private delegate Task<string> WriteFunc(RecordKey key, ReadOnlyMemory<byte> data, string? expectedETag, CancellationToken cancellationToken);

    private sealed record RunResult(long Writes, double WritesPerSecond, double P50Milliseconds, double P99Milliseconds);

    /// <summary>Each grain rewrites its key until the time is up, awaiting every write; returns throughput and latency percentiles.</summary>
    private static async Task<RunResult> RunAsync(WriteFunc write, int grains, byte[] payload, TimeSpan duration)
    {
        var runId = Guid.NewGuid().ToString("N")[..6];
        var clock = Stopwatch.StartNew();
        var deadline = duration.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond;
        var latencies = await Task.WhenAll(Enumerable.Range(0, grains).Select(g => Task.Run(async () =>
        {
            var key = new RecordKey("bench", $"grain-{runId}-{g}", "state");
            var samples = new List<double>(4096);
            string? etag = null;
            while (clock.ElapsedTicks < deadline)
            {
                var started = Stopwatch.GetTimestamp();
                etag = await write(key, payload, etag, CancellationToken.None);
                samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            return samples;
        })));
        var elapsed = clock.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        double Percentile(double p) => all.Length == 0 ? 0 : Math.Round(all[Math.Min(all.Length - 1, (int)(p * all.Length))], 2);
        return new RunResult(all.Length, all.Length / elapsed, Percentile(0.50), Percentile(0.99));
    }

    /// <summary>
    /// The baseline: same file settings (WAL, synchronous=FULL), but every write is its own transaction and fsync,
    /// serialized on one connection; what a store without group commit does.
    /// </summary>
    private sealed class NaiveSqliteStore : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly SemaphoreSlim _gate = new(1, 1);
        private long _lastETag;

        public NaiveSqliteStore(string path)
        {
            _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            _connection.Open();
            Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;" +
                    "CREATE TABLE grain_state (grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, state_name TEXT NOT NULL, " +
                    "etag INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (grain_type, grain_key, state_name));");
        }

        public async Task<string> WriteAsync(RecordKey key, ReadOnlyMemory<byte> data, string? expectedETag, CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken);
            try
            {
                var etag = ++_lastETag;
                using var transaction = _connection.BeginTransaction();
                using var command = _connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = expectedETag is null
                    ? "INSERT INTO grain_state VALUES ($t, $k, $s, $e, $d) ON CONFLICT DO NOTHING"
                    : "UPDATE grain_state SET etag = $e, data = $d WHERE grain_type = $t AND grain_key = $k AND state_name = $s AND etag = $x";
                command.Parameters.AddWithValue("$t", key.Type);
                command.Parameters.AddWithValue("$k", key.Key);
                command.Parameters.AddWithValue("$s", key.Name);
                command.Parameters.AddWithValue("$e", etag);
                command.Parameters.AddWithValue("$d", data.ToArray());
                if (expectedETag is not null) command.Parameters.AddWithValue("$x", long.Parse(expectedETag, CultureInfo.InvariantCulture));
                if (command.ExecuteNonQuery() != 1) throw new InconsistentStateException($"ETag mismatch on {key} (expected {expectedETag})");
                transaction.Commit();
                return etag.ToString(CultureInfo.InvariantCulture);
            }
            finally
            {
                _gate.Release();
            }
        }

        public void Dispose()
        {
            _connection.Dispose();
            _gate.Dispose();
        }

        private void Execute(string sql)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }
    }
}
