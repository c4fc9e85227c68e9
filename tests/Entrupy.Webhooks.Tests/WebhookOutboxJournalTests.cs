using Entrupy.Persistence.Sqlite;
using Entrupy.Webhooks;
using Entrupy.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Webhooks.Tests;

/// <summary>
/// The webhook outbox journals each enqueue, retry and removal instead of rewriting its whole pending list (which
/// grows while a receiver is down), against a real SQLite file: a crash copy and a clean restart keep exactly the
/// pending deliveries, with their attempts and next attempt times.
/// </summary>
public sealed class WebhookOutboxJournalTests : IDisposable
{
    private readonly TemporaryStoreFolder folder = new("entrupy-outbox");

    public void Dispose() => folder.Dispose();

    [Fact]
    public async Task A_growing_backlog_is_written_change_by_change_and_survives_a_crash_and_a_restart()
    {
        var database = folder.File("silo.db");
        var now = new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
        var body = "{\"id\":\"evt\",\"data\":\"" + new string('x', 400) + "\"}";
        OutboxEntry Entry(int i) => new($"dlv_{i:D4}", "ten_a", "whk_a", $"evt_{i:D4}", "registration.completed", body, 0, now, now);

        await using (var cluster = await StartAsync(database))
        {
            var outbox = cluster.GrainFactory.GetGrain<IWebhookOutboxGrain>(WebhookOutboxGrain.Key);
            for (var i = 0; i < 300; i += 2) await outbox.Enqueue([Entry(i), Entry(i + 1)]);
            for (var i = 0; i < 20; i++) await outbox.Remove($"dlv_{i:D4}");
            for (var i = 20; i < 30; i++) await outbox.Reschedule($"dlv_{i:D4}", now.AddMinutes(5));
            await outbox.Remove("dlv_9999"); // unknown: no change, no record

            // 180 changes: no snapshot yet, and no record carries more than its own change (never the backlog).
            var journal = SqliteStoreFiles.Records(database, WebhookOutboxGrain.JournalGrainType);
            Assert.Equal(180, journal.Count);
            Assert.All(journal, r => Assert.True(r.Bytes < 1_500, $"{r.Key}: {r.Bytes} bytes"));

            var crashed = SqliteStoreFiles.CrashCopy(database, folder.File("crashed.db"));
            await using (var afterCrash = await StartAsync(crashed))
                await AssertBacklogAsync(afterCrash.GrainFactory.GetGrain<IWebhookOutboxGrain>(WebhookOutboxGrain.Key), now);

            for (var i = 300; i < 400; i++) await outbox.Enqueue([Entry(i)]); // past 256 changes: a snapshot
            Assert.Equal(280 - 256, SqliteStoreFiles.Records(database, WebhookOutboxGrain.JournalGrainType).Count);
            for (var i = 300; i < 400; i++) await outbox.Remove($"dlv_{i:D4}");
        }

        Assert.Empty(SqliteStoreFiles.Records(database, WebhookOutboxGrain.JournalGrainType));
        await using var restarted = await StartAsync(database);
        await AssertBacklogAsync(restarted.GrainFactory.GetGrain<IWebhookOutboxGrain>(WebhookOutboxGrain.Key), now);
    }

    private static async Task AssertBacklogAsync(IWebhookOutboxGrain outbox, DateTimeOffset now)
    {
        Assert.Equal(280, await outbox.Count());
        var due = await outbox.LeaseDue(now, 1000, TimeSpan.FromMinutes(1));
        Assert.Equal(270, due.Length); // the 10 rescheduled ones are not due yet
        Assert.DoesNotContain(due, e => string.CompareOrdinal(e.Id, "dlv_0030") < 0);
        var later = await outbox.LeaseDue(now.AddMinutes(5), 1000, TimeSpan.FromMinutes(1));
        var retried = Assert.Single(later, e => e.Id == "dlv_0025");
        Assert.Equal((1, now.AddMinutes(5)), (retried.Attempts, retried.NextAttemptAt));
    }

    private static Task<TestSilo> StartAsync(string database) =>
        TestSilo.StartAsync(s => s.Services.AddSqliteGrainStorageAsDefault(database));
}
