using Entrupy.Persistence.Sqlite;
using Entrupy.Storage;
using Entrupy.Registry;
using Entrupy.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Registry.Tests;

/// <summary>
/// A directory bucket journals each change as a small record and snapshots every
/// <see cref="JournaledState{TState, TChange}.SnapshotEvery"/> changes, against a real SQLite file: what it writes, and that a crash
/// (a copy of the file taken while it runs) and a clean restart both give back every entry.
/// </summary>
public sealed class TenantItemDirectoryTests : IDisposable
{
    private const string Bucket = "ten_directory/03";
    private readonly TemporaryStoreFolder folder = new("entrupy-directory");

    public void Dispose() => folder.Dispose();

    [Fact]
    public async Task Changes_are_small_journal_records_snapshotted_in_batches_and_survive_a_crash_and_a_restart()
    {
        var database = folder.File("silo.db");
        var at = new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
        const int items = JournaledState<TenantItemsState, ItemDirectoryUpdate>.SnapshotEvery + 44;
        await using (var cluster = await StartAsync(database))
        {
            var bucket = cluster.GrainFactory.GetGrain<ITenantItemsGrain>(Bucket);
            for (var i = 0; i < items; i++)
                await bucket.Record(new ItemDirectoryUpdate($"item-{i:D4}", 1, 1, at.AddSeconds(i)));
            // Later changes to known entries: counts grow, an older time moves the creation time back, a repeat is no change.
            await bucket.Record(new ItemDirectoryUpdate("item-0007", 2, 5, at.AddDays(1)));
            await bucket.Record(new ItemDirectoryUpdate("item-0008", null, null, at.AddDays(-1)));
            await bucket.Record(new ItemDirectoryUpdate("item-0007", 2, 5, at.AddDays(1)));

            // One snapshot after the first 256 changes; the 46 since are journal records of a few hundred bytes each.
            var journal = SqliteStoreFiles.Records(database, TenantItemsGrain.JournalGrainType);
            Assert.Equal(items + 2 - JournaledState<TenantItemsState, ItemDirectoryUpdate>.SnapshotEvery, journal.Count);
            Assert.All(journal, r => Assert.True(r.Bytes < 300, $"{r.Key}: {r.Bytes} bytes"));
            Assert.Single(SqliteStoreFiles.Records(database, "tenantitems"));

            // Power lost now: no deactivation, no final snapshot. The snapshot plus the journal after it is everything.
            var crashed = SqliteStoreFiles.CrashCopy(database, folder.File("crashed.db"));
            await using (var afterCrash = await StartAsync(crashed))
                AssertEntries(await afterCrash.GrainFactory.GetGrain<ITenantItemsGrain>(Bucket).List(null, 1000), items, at);
        }

        // A clean stop snapshots the rest and deletes the journal it covers.
        Assert.Empty(SqliteStoreFiles.Records(database, TenantItemsGrain.JournalGrainType));
        await using (var restarted = await StartAsync(database))
        {
            var bucket = restarted.GrainFactory.GetGrain<ITenantItemsGrain>(Bucket);
            AssertEntries(await bucket.List(null, 1000), items, at);
            var page = await bucket.List("item-0100", 3);
            Assert.Equal(["item-0101", "item-0102", "item-0103"], page.Select(s => s.CustomerItemId));
        }
    }

    private static void AssertEntries(Entrupy.Registry.Api.ItemSummary[] entries, int items, DateTimeOffset at)
    {
        Assert.Equal(items, entries.Length);
        Assert.Equal(entries.Select(e => e.CustomerItemId).Order(StringComparer.Ordinal), entries.Select(e => e.CustomerItemId));
        var seventh = entries.Single(e => e.CustomerItemId == "item-0007");
        Assert.Equal((2, 5, at.AddSeconds(7)), (seventh.CurrentRegistration, seventh.CustodyEvents, seventh.CreatedAt));
        var eighth = entries.Single(e => e.CustomerItemId == "item-0008");
        Assert.Equal((1, 1, at.AddDays(-1)), (eighth.CurrentRegistration, eighth.CustodyEvents, eighth.CreatedAt));
        Assert.Equal(at.AddSeconds(items - 1), entries[^1].CreatedAt);
    }

    private static Task<TestSilo> StartAsync(string database) =>
        TestSilo.StartAsync(s => s.Services.AddSqliteGrainStorageAsDefault(database));
}
