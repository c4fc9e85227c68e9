using Entrupy.TestSupport;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Entrupy.Persistence.Sqlite.CrashWriter;
using Entrupy.Storage;
using Microsoft.Data.Sqlite;
using Orleans;

namespace Entrupy.Persistence.Sqlite.Tests;

/// <summary>
/// Kills a process that writes grain state through <see cref="SqliteGrainStorage"/> (Orleans' IGrainStorage, as the
/// silo uses it) in the middle of its writes, then checks the
/// file: every write it acknowledged is there (or a later one for that key) and no value is torn.
/// </summary>
public sealed class CrashSafetyTests : IDisposable
{
    private const int Writers = 16;
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task Acknowledged_writes_survive_the_writer_being_killed_mid_stream()
    {
        var databasePath = _directory.File("crash.db");
        var ackedSequence = new Dictionary<string, long>();
        var totalAcks = 0;

        // Different kill points: right after the first acknowledgements, a few batches in, and deep into the stream.
        // Each run resumes from what the previous one left, so recovery after a kill is exercised too.
        foreach (var killAfterAcks in new[] { 1, 40, 400, 2000 })
        {
            var acks = await RunAndKillAsync(databasePath, killAfterAcks);
            Assert.True(acks.Count >= killAfterAcks, $"only {acks.Count} acknowledgements before the kill");
            totalAcks += acks.Count;
            foreach (var (key, sequence) in acks)
                ackedSequence[key] = Math.Max(ackedSequence.GetValueOrDefault(key), sequence);

            await VerifyAsync(databasePath, ackedSequence);
        }

        Assert.True(totalAcks > 2000);
    }

    /// <summary>Starts the crash writer, kills it once it has acknowledged <paramref name="killAfterAcks"/> writes, returns every acknowledgement it printed.</summary>
    private static async Task<List<(string Key, long Sequence)>> RunAndKillAsync(string databasePath, int killAfterAcks)
    {
        var writerDll = Path.Combine(AppContext.BaseDirectory, "Entrupy.Persistence.Sqlite.CrashWriter.dll");
        Assert.True(File.Exists(writerDll), writerDll);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { writerDll, databasePath, Writers.ToString(CultureInfo.InvariantCulture), "25" }) start.ArgumentList.Add(arg);

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var acks = new List<(string, long)>();
        var killed = false;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (!line.StartsWith("ACK ", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ');
                acks.Add((parts[1], long.Parse(parts[2], CultureInfo.InvariantCulture)));
                if (!killed && acks.Count >= killAfterAcks)
                {
                    process.Kill(entireProcessTree: true); // SIGKILL: no disposal, no flush, mid-batch
                    killed = true;
                }
            }
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        // Lines still in the pipe after the kill were printed after their write returned: they count as acknowledged.
        Assert.True(killed, $"the writer stopped before {killAfterAcks} acknowledgements (exit {process.ExitCode}): {await stderr}");
        return acks;
    }

    private static async Task VerifyAsync(string databasePath, Dictionary<string, long> ackedSequence)
    {
        // Reopening recovers the WAL left by the killed process.
        await using (var storage = new SqliteGrainStorage(new SqliteGrainStorageOptions { DatabasePath = databasePath }))
        {
            foreach (var (key, acked) in ackedSequence)
            {
                var state = new GrainState<BinaryRecord>(new BinaryRecord());
                await storage.ReadStateAsync(CrashRecord.StateName, CrashRecord.Grain(key), state);
                Assert.True(state.RecordExists, $"acknowledged write {key}#{acked} is missing");
                Assert.True(CrashRecord.TryDecode(state.State!.Data, out var storedKey, out var storedSequence), $"record {key} is torn");
                Assert.Equal(key, storedKey);
                Assert.True(storedSequence >= acked, $"{key}: acknowledged #{acked} but the file has #{storedSequence}");
            }
        }

        // Every row in the file, acknowledged or not, is whole.
        var seen = new ConcurrentBag<string>();
        using var raw = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false, Mode = SqliteOpenMode.ReadOnly }.ToString());
        raw.Open();
        using (var check = raw.CreateCommand())
        {
            check.CommandText = "PRAGMA integrity_check";
            Assert.Equal("ok", check.ExecuteScalar());
        }

        using var select = raw.CreateCommand();
        select.CommandText = "SELECT grain_key, data FROM grain_state WHERE grain_type = 'crash'";
        using var rows = select.ExecuteReader();
        while (rows.Read())
        {
            var key = rows.GetString(0);
            Assert.True(CrashRecord.TryDecode(rows.GetFieldValue<byte[]>(1), out var storedKey, out _), $"row {key} is torn");
            Assert.Equal(key, storedKey);
            seen.Add(key);
        }

        Assert.Superset(ackedSequence.Keys.ToHashSet(), seen.ToHashSet());
    }

    public void Dispose() => _directory.Dispose();
}
