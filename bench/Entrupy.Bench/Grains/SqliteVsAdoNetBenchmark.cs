using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Entrupy.Bench.Hosting;
using Entrupy.Persistence.Sqlite;
using Entrupy.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Storage;

namespace Entrupy.Bench.Grains;

/// <summary>A grain that persists a fixed-size binary record (its key and a sequence number first) on every call.</summary>
public interface IBenchRecordGrain : IGrainWithIntegerKey
{
    Task Write(long sequence, int bytes);
}

public sealed class BenchRecordGrain([PersistentState("record")] IPersistentState<BinaryRecord> state) : Grain, IBenchRecordGrain
{
    public async Task Write(long sequence, int bytes)
    {
        state.State = new BinaryRecord { Data = BenchRecord.Encode(this.GetPrimaryKeyLong(), sequence, bytes) };
        await state.WriteStateAsync();
    }
}

/// <summary>The record <see cref="BenchRecordGrain"/> stores: key and sequence (little-endian), then filler.</summary>
public static class BenchRecord
{
    public static byte[] Encode(long key, long sequence, int bytes)
    {
        var data = new byte[Math.Max(16, bytes)];
        BinaryPrimitives.WriteInt64LittleEndian(data, key);
        BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(8), sequence);
        data.AsSpan(16).Fill(0x5A);
        return data;
    }

    public static (long Key, long Sequence) Decode(byte[] data) =>
        (BinaryPrimitives.ReadInt64LittleEndian(data), BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(8)));
}

/// <summary>
/// <c>bench/run sqlite-vs-adonet</c>: the same 64 grains writing <c>[PersistentState]</c> in a loop on a real SQLite file,
/// once through our <see cref="SqliteGrainStorage"/> (group commit) and once through Orleans' own ADO.NET grain storage
/// (Microsoft.Orleans.Persistence.AdoNet, SQLite variant) with our script (Grains/AdoNet/Sqlite-AdoNet-Persistence.sql);
/// both in WAL mode with synchronous=FULL, both with our state serializer (the record's raw bytes). Then, unless
/// <c>--no-crash</c>, a child process writing through the ADO.NET provider is SIGKILLed and every acknowledged write
/// is looked for in the file.
/// </summary>
public sealed class SqliteVsAdoNetBenchmark : IBenchmark
{
    /// <summary>Orleans' invariant for SQLite; its connection factory loads Microsoft.Data.Sqlite's SqliteFactory by name.</summary>
    public const string Invariant = "System.Data.SQLite"; // AdoNetInvariants.InvariantNameSqlLite (internal)

    public string Name => "sqlite-vs-adonet";

    public string Description =>
        "SQLite grain state writes/s from N grains: our SqliteGrainStorage vs Orleans' ADO.NET provider (same file setup, " +
        "same serializer), then a SIGKILL check of the ADO.NET provider [--grains 64 --seconds 5 --bytes 256 --rounds 1 " +
        "--crash-seconds 3 --no-crash]";

    public async Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        int grains = 64, bytes = 256, rounds = 1;
        double seconds = 5, crashSeconds = 3;
        bool crash = true;
        string? crashChild = null;
        for (var a = new BenchArguments(args); a.MoveNext();)
        {
            switch (a.Option)
            {
                case "--grains": grains = a.Int(); break;
                case "--seconds": seconds = a.Float(); break;
                case "--bytes": bytes = a.Int(); break;
                case "--rounds": rounds = a.Int(); break;
                case "--crash-seconds": crashSeconds = a.Float(); break;
                case "--no-crash": crash = false; break;
                case "--crash-child": crashChild = a.Text(); break; // internal: the process the crash check kills
                default: throw a.Unknown();
            }
        }
        if (grains < 1 || seconds <= 0 || rounds < 1 || bytes < 16) throw new BenchOptionException("--grains, --seconds, --rounds must be positive, --bytes at least 16");
        if (crashChild is not null)
        {
            await CrashChildAsync(crashChild, grains, bytes);
            Environment.Exit(0);
        }

        var folder = Path.Combine(Path.GetTempPath(), "entrupy-bench-adonet-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            var ours = new List<double>();
            var adonet = new List<double>();
            string? adonetSynchronous = null, adonetJournal = null;
            for (var round = 0; round < rounds; round++)
            {
                var oursPath = Path.Combine(folder, $"ours-{round}.db");
                await using (var silo = await BenchSilo.StartAsync(s => s.Services.AddSqliteGrainStorageAsDefault(oursPath)))
                {
                    var (rate, _) = await MeasureAsync(silo, grains, seconds, bytes);
                    context.Progress($"round {round + 1}: SqliteGrainStorage {rate:0} writes/s ({grains} grains, {bytes} B)");
                    ours.Add(rate);
                }

                var adonetPath = Path.Combine(folder, $"adonet-{round}.db");
                var connectionString = CreateAdoNetDatabase(adonetPath);
                await using (var silo = await StartAdoNetSiloAsync(connectionString))
                {
                    var (rate, last) = await MeasureAsync(silo, grains, seconds, bytes);
                    context.Progress($"round {round + 1}: Orleans AdoNetGrainStorage {rate:0} writes/s ({grains} grains, {bytes} B)");
                    adonet.Add(rate);
                    CheckStored(adonetPath, last, bytes);
                    await CheckConflictsAsync(silo, bytes);
                }
                (adonetJournal, adonetSynchronous) = Pragmas(connectionString);
            }

            var figures = new Dictionary<string, object?>
            {
                ["grains"] = grains,
                ["seconds"] = seconds,
                ["state_bytes"] = bytes,
                ["rounds"] = rounds,
                ["orleans"] = BenchSilo.OrleansVersion,
                ["ours_durable_writes_per_sec"] = Math.Round(ours.Average()),
                ["adonet_durable_writes_per_sec"] = Math.Round(adonet.Average()),
                ["ours_over_adonet"] = Math.Round(ours.Average() / Math.Max(1, adonet.Average()), 1),
                ["ours_writes_per_sec_each_round"] = ours.Select(r => Math.Round(r)).ToArray(),
                ["adonet_writes_per_sec_each_round"] = adonet.Select(r => Math.Round(r)).ToArray(),
                ["adonet_invariant"] = Invariant,
                ["adonet_journal_mode"] = adonetJournal,
                ["adonet_synchronous"] = adonetSynchronous,
                // Checked after each ADO.NET round (the run stops otherwise): last writes stored, stale ETags refused.
                ["adonet_last_writes_stored_and_stale_etags_refused"] = true,
            };
            if (crash)
                foreach (var (key, value) in await CrashCheckAsync(context, Path.Combine(folder, "adonet-crash.db"), Math.Min(grains, 16), bytes, crashSeconds))
                    figures[key] = value;
            return figures;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Creates the file in WAL mode and runs our script on it; returns the provider's connection string.</summary>
    public static string CreateAdoNetDatabase(string path)
    {
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL";
            var mode = Convert.ToString(wal.ExecuteScalar(), CultureInfo.InvariantCulture);
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase)) throw new InvalidOperationException($"journal_mode is {mode}, not wal");
        }
        using var script = connection.CreateCommand();
        using var stream = typeof(SqliteVsAdoNetBenchmark).Assembly.GetManifestResourceStream("Entrupy.Bench.Grains.AdoNet.Sqlite-AdoNet-Persistence.sql")
                           ?? throw new InvalidOperationException("the ADO.NET SQLite script is not embedded");
        script.CommandText = new StreamReader(stream).ReadToEnd();
        script.ExecuteNonQuery();
        return connectionString;
    }

    /// <summary>A bench silo whose default grain storage is Orleans' ADO.NET provider on <paramref name="connectionString"/>.</summary>
    public static Task<BenchSilo> StartAdoNetSiloAsync(string connectionString) =>
        BenchSilo.StartAsync(s => s.Services.AddAdoNetGrainStorageAsDefault(options => options.Configure<IGrainStorageSerializer>((o, serializer) =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = connectionString;
            o.GrainStorageSerializer = serializer; // the silo's: EntrupyGrainStateSerializer, as ours uses
        })));

    /// <summary>journal_mode and synchronous as a new pooled connection on the file sees them (before the write query's PRAGMA).</summary>
    private static (string? Journal, string? Synchronous) Pragmas(string connectionString)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        var journal = Convert.ToString(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        command.CommandText = "PRAGMA synchronous";
        var synchronous = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) switch
        {
            0 => "OFF", 1 => "NORMAL", 2 => "FULL", 3 => "EXTRA", var n => n.ToString(CultureInfo.InvariantCulture),
        };
        return (journal, synchronous + " (default of a new connection; the write query sets FULL)");
    }

    /// <summary>
    /// Sanity: the ADO.NET file holds one record per grain, of the state size, as our serializer wrote it (raw bytes),
    /// with the grain's last acknowledged sequence (so every version-checked upsert landed).
    /// </summary>
    private static void CheckStored(string path, long[] last, int bytes)
    {
        var stored = ReadRecords(path);
        var wrong = Enumerable.Range(0, last.Length)
            .Count(i => !stored.TryGetValue(i, out var data) || data.Length != bytes || BenchRecord.Decode(data).Sequence != last[i]);
        if (stored.Count != last.Length || wrong > 0)
            throw new InvalidOperationException($"ADO.NET file holds {stored.Count} records, {wrong} not the last write of their grain");
    }

    /// <summary>
    /// Sanity of our write query's contract: a write with a stale ETag, and a first write (no ETag) on a stored grain,
    /// are refused by the provider as version conflicts.
    /// </summary>
    private static async Task CheckConflictsAsync(BenchSilo silo, int bytes)
    {
        var storage = silo.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Default);
        var grainId = silo.GrainFactory.GetGrain<IBenchRecordGrain>(0).GetGrainId();
        foreach (var etag in new[] { "1", null })
        {
            var state = new GrainState<BinaryRecord>(new BinaryRecord { Data = BenchRecord.Encode(0, -1, bytes) }) { ETag = etag };
            try
            {
                await storage.WriteStateAsync("record", grainId, state); // the [PersistentState] name
                throw new InvalidOperationException($"ADO.NET provider accepted a write with ETag {etag ?? "null"} on a grain at a later version");
            }
            catch (InconsistentStateException) { }
        }
    }

    private static Dictionary<long, byte[]> ReadRecords(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT PayloadBinary FROM OrleansStorage WHERE PayloadBinary IS NOT NULL";
        using var reader = command.ExecuteReader();
        var records = new Dictionary<long, byte[]>();
        while (reader.Read())
        {
            var data = (byte[])reader.GetValue(0);
            records[BenchRecord.Decode(data).Key] = data;
        }
        return records;
    }

    /// <summary>Writes/s over <paramref name="seconds"/> after a 1 s warm-up, and each grain's last acknowledged sequence.</summary>
    private static async Task<(double Rate, long[] Last)> MeasureAsync(BenchSilo silo, int grains, double seconds, int bytes)
    {
        var refs = Enumerable.Range(0, grains).Select(i => silo.GrainFactory.GetGrain<IBenchRecordGrain>(i)).ToArray();
        var sequence = new long[grains];
        await Run(TimeSpan.FromSeconds(1)); // warm-up: activations, first inserts
        var (writes, elapsed) = await Run(TimeSpan.FromSeconds(seconds));
        return (writes / elapsed.TotalSeconds, sequence);

        async Task<(long, TimeSpan)> Run(TimeSpan duration)
        {
            long total = 0;
            var sw = Stopwatch.StartNew();
            await Task.WhenAll(refs.Select(async (g, i) =>
            {
                long n = 0;
                while (sw.Elapsed < duration)
                {
                    await g.Write(++sequence[i], bytes);
                    n++;
                }
                Interlocked.Add(ref total, n);
            }));
            return (total, sw.Elapsed);
        }
    }

    /// <summary>
    /// Starts this benchmark as a child (<c>--crash-child</c>) writing through the ADO.NET provider, SIGKILLs it after
    /// <paramref name="seconds"/>, then checks that every grain's stored sequence is at least its last acknowledged one.
    /// </summary>
    private static async Task<Dictionary<string, object?>> CrashCheckAsync(BenchContext ctx, string path, int grains, int bytes, double seconds)
    {
        CreateAdoNetDatabase(path);
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(SqliteVsAdoNetBenchmark).Assembly.Location);
        foreach (var arg in new[] { "sqlite-vs-adonet", "--crash-child", path, "--grains", grains.ToString(CultureInfo.InvariantCulture), "--bytes", bytes.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);
        using var child = Process.Start(start)!;
        _ = child.StandardError.ReadToEndAsync();
        var acked = new long[grains];
        long acks = 0;
        var ready = new TaskCompletionSource();
        var reading = Task.Run(async () =>
        {
            while (await child.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line == "READY") { ready.TrySetResult(); continue; }
                var parts = line.Split(' ');
                if (parts is ["ACK", var k, var s])
                {
                    var key = int.Parse(k, CultureInfo.InvariantCulture);
                    acked[key] = Math.Max(acked[key], long.Parse(s, CultureInfo.InvariantCulture));
                    acks++;
                }
            }
        });
        if (await Task.WhenAny(ready.Task, Task.Delay(TimeSpan.FromSeconds(60))) != ready.Task) { child.Kill(); throw new TimeoutException("crash child did not start"); }
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        child.Kill(); // SIGKILL on Unix
        await child.WaitForExitAsync();
        await reading;

        var stored = ReadRecords(path);
        var lost = Enumerable.Range(0, grains).Count(i => acked[i] > 0 && (!stored.TryGetValue(i, out var data) || BenchRecord.Decode(data).Sequence < acked[i]));
        ctx.Progress($"crash check (ADO.NET provider): {acks} acknowledged writes from {grains} grains, SIGKILL, {lost} grains lost an acknowledged write");
        return new Dictionary<string, object?>
        {
            ["adonet_crash_grains"] = grains,
            ["adonet_crash_acknowledged_writes"] = acks,
            ["adonet_crash_grains_losing_acknowledged_write"] = lost,
            ["adonet_crash_safe"] = acks > 0 && lost == 0,
        };
    }

    /// <summary>The killed child: grains write forever through the ADO.NET provider; "ACK key sequence" after each returns.</summary>
    private static async Task CrashChildAsync(string path, int grains, int bytes)
    {
        var silo = await StartAdoNetSiloAsync(new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString());
        var stdout = Console.Out;
        stdout.WriteLine("READY");
        using var orphan = new CancellationTokenSource(TimeSpan.FromSeconds(120)); // bounds an orphan whose parent died
        await Task.WhenAll(Enumerable.Range(0, grains).Select(async i =>
        {
            var grain = silo.GrainFactory.GetGrain<IBenchRecordGrain>(i);
            for (long n = 1; !orphan.IsCancellationRequested; n++)
            {
                await grain.Write(n, bytes);
                stdout.WriteLine(FormattableString.Invariant($"ACK {i} {n}"));
            }
        }));
    }
}
