using Entrupy.TestSupport;
using System.Globalization;
using System.Text.Json;
using Entrupy.Persistence.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Storage.Tests;

/// <summary>JournaledState against real SqliteGrainStorage files: snapshots, replay after a crash-like stop, leftovers.</summary>
public sealed class JournaledStateTests : IDisposable
{
    public sealed class Directory : IJournaledSnapshot
    {
        public long Sequence { get; set; }

        public List<string> Items { get; set; } = [];
    }

    public sealed record Added(string Item);

    private const string JournalType = "directory-journal";
    private const string GrainKey = "tenant-1";
    private readonly TempDirectory _directory = new();

    private string DatabasePath => _directory.File("journal.db");

    private SqliteGrainStorage OpenStorage() => new(new SqliteGrainStorageOptions { DatabasePath = DatabasePath }, new EntrupyGrainStateSerializer());

    /// <summary>One activation: the grain's persistent state (read), the journal over the same provider, activated.</summary>
    private static async Task<(JournaledState<Directory, Added> Journal, PersistentStorageAdapter<Directory> Snapshot, Counter Deactivations)> ActivateAsync(IGrainStorage storage)
    {
        var snapshot = new PersistentStorageAdapter<Directory>(storage, "directory", GrainId.Create("directory", GrainKey));
        await snapshot.ReadStateAsync();
        var deactivations = new Counter();
        var journal = new JournaledState<Directory, Added>(snapshot, new RecordStore(storage), JournalType, GrainKey,
            change => snapshot.State.Items.Add(change.Item), () => deactivations.Count++, NullLogger.Instance);
        await journal.ActivateAsync(CancellationToken.None);
        return (journal, snapshot, deactivations);
    }

    public sealed class Counter
    {
        public int Count { get; set; }
    }

    private static RecordKey Entry(long sequence) =>
        new(JournalType, GrainKey + "/" + sequence.ToString("D12", CultureInfo.InvariantCulture), "entry");

    private static async Task<long[]> JournalSequencesAsync(IGrainStorage storage, long upTo)
    {
        var records = new RecordStore(storage);
        var present = new List<long>();
        for (var s = 1; s <= upTo; s++)
        {
            if (await records.ReadAsync(Entry(s)) is not null) present.Add(s);
        }
        return [.. present];
    }

    private static async Task<Directory> StoredSnapshotAsync(IGrainStorage storage)
    {
        var fresh = new PersistentStorageAdapter<Directory>(storage, "directory", GrainId.Create("directory", GrainKey));
        await fresh.ReadStateAsync();
        return fresh.State;
    }

    [Fact]
    public async Task Every_change_is_a_journal_record_until_a_snapshot_every_N_covers_and_deletes_them()
    {
        var every = JournaledState<Directory, Added>.SnapshotEvery;
        await using var storage = OpenStorage();
        var (journal, _, deactivations) = await ActivateAsync(storage);

        for (var i = 1; i < every; i++) await journal.ChangeAsync(new Added($"item-{i}"));
        Assert.Equal(0, (await StoredSnapshotAsync(storage)).Sequence); // no snapshot yet: the changes are in the journal
        Assert.Equal(every - 1, (await JournalSequencesAsync(storage, every + 20)).Length);

        await journal.ChangeAsync(new Added($"item-{every}"));
        var snapshot = await StoredSnapshotAsync(storage);
        Assert.Equal(every, snapshot.Sequence);
        Assert.Equal(Enumerable.Range(1, every).Select(i => $"item-{i}"), snapshot.Items);
        Assert.Empty(await JournalSequencesAsync(storage, every + 20));

        for (var i = every + 1; i <= every + 10; i++) await journal.ChangeAsync(new Added($"item-{i}"));
        Assert.Equal(Enumerable.Range(every + 1, 10).Select(i => (long)i), await JournalSequencesAsync(storage, every + 20));
        Assert.Equal(every + 10, journal.State.Items.Count);
        Assert.Equal(0, deactivations.Count);

        // A journal record is the change itself, as web JSON.
        var record = await new RecordStore(storage).ReadAsync(Entry(every + 1));
        Assert.Equal($$"""{"item":"item-{{every + 1}}"}""", System.Text.Encoding.UTF8.GetString(record!.Data.Span));
    }

    [Fact]
    public async Task After_a_crash_like_stop_the_next_activation_replays_the_journal_after_the_snapshot()
    {
        var every = JournaledState<Directory, Added>.SnapshotEvery;
        var total = every + 44;
        await using (var storage = OpenStorage())
        {
            var (journal, _, _) = await ActivateAsync(storage);
            for (var i = 1; i <= total; i++) await journal.ChangeAsync(new Added($"item-{i}"));
            // No DeactivateAsync: the process "dies" with 44 changes only in the journal.
        }

        await using (var storage = OpenStorage())
        {
            Assert.Equal(every, (await StoredSnapshotAsync(storage)).Sequence);
            var (journal, _, _) = await ActivateAsync(storage);
            Assert.Equal(Enumerable.Range(1, total).Select(i => $"item-{i}"), journal.State.Items);

            // The replayed activation goes on numbering after the replayed records, and deactivation snapshots all.
            await journal.ChangeAsync(new Added("after restart"));
            await journal.DeactivateAsync();
            var snapshot = await StoredSnapshotAsync(storage);
            Assert.Equal(total + 1, snapshot.Sequence);
            Assert.Equal("after restart", snapshot.Items[^1]);
            Assert.Empty(await JournalSequencesAsync(storage, total + 5));
        }

        await using (var storage = OpenStorage())
        {
            var (journal, _, _) = await ActivateAsync(storage);
            Assert.Equal(total + 1, journal.State.Items.Count);
        }
    }

    [Fact]
    public async Task Records_a_crash_left_below_the_snapshot_are_not_replayed_and_are_deleted()
    {
        await using var storage = OpenStorage();
        var records = new RecordStore(storage);
        // A crash after the snapshot write but before its covered records were deleted: snapshot at 5, records 3..5 left,
        // and one record after the snapshot that must be replayed.
        var snapshot = new PersistentStorageAdapter<Directory>(storage, "directory", GrainId.Create("directory", GrainKey));
        snapshot.State = new Directory { Sequence = 5, Items = ["s1", "s2", "s3", "s4", "s5"] };
        await snapshot.WriteStateAsync();
        foreach (var s in new[] { 3, 4, 5, 6 })
            await records.WriteAsync(Entry(s), JsonSerializer.SerializeToUtf8Bytes(new Added($"journal-{s}"), EntrupyGrainStateSerializer.JsonOptions), null);

        var (journal, _, _) = await ActivateAsync(storage);
        Assert.Equal(["s1", "s2", "s3", "s4", "s5", "journal-6"], journal.State.Items);
        Assert.Equal(new long[] { 6 }, await JournalSequencesAsync(storage, 10));
    }

    [Fact]
    public async Task A_journal_write_that_conflicts_asks_the_grain_to_deactivate_and_changes_nothing_in_memory()
    {
        await using var storage = OpenStorage();
        var (first, _, _) = await ActivateAsync(storage);
        var (second, _, secondDeactivations) = await ActivateAsync(storage);
        // Two activations of one grain (a split brain): the first appends record 1, the second cannot append its own 1.
        await first.ChangeAsync(new Added("from first"));

        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => second.ChangeAsync(new Added("from second")));
        Assert.Equal(1, secondDeactivations.Count);
        Assert.Empty(second.State.Items);
        var record = await new RecordStore(storage).ReadAsync(Entry(1));
        Assert.Contains("from first", System.Text.Encoding.UTF8.GetString(record!.Data.Span));
    }

    public void Dispose() => _directory.Dispose();
}
