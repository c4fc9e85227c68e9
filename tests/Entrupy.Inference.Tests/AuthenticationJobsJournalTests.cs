using Entrupy.Persistence.Sqlite;
using Entrupy.Inference;
using Entrupy.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Inference.Tests;

/// <summary>The authentication job list journals each add, retry and removal; a crash copy keeps exactly the waiting jobs.</summary>
public sealed class AuthenticationJobsJournalTests : IDisposable
{
    private readonly TemporaryStoreFolder folder = new("entrupy-authjobs");

    public void Dispose() => folder.Dispose();

    [Fact]
    public async Task Waiting_jobs_are_written_change_by_change_and_survive_a_crash()
    {
        var database = folder.File("silo.db");
        var now = new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
        await using var cluster = await StartAsync(database);
        var jobs = cluster.GrainFactory.GetGrain<IAuthenticationJobsGrain>(AuthenticationJobsGrain.Key);
        for (var i = 0; i < 30; i++)
            Assert.True(await jobs.Add(new AuthenticationJob($"job-{i:D2}", "ten_a", $"item-{i:D2}", $"auth-{i:D2}", "acme-leather", 1, now, 0, now, null)));
        Assert.False(await jobs.Add(new AuthenticationJob("job-00", "ten_a", "item-00", "auth-00", "acme-leather", 1, now, 0, now, null)));
        for (var i = 0; i < 10; i++) await jobs.Remove($"job-{i:D2}");
        for (var i = 10; i < 15; i++) await jobs.Reschedule($"job-{i:D2}", now.AddMinutes(1), "model busy");

        var journal = SqliteStoreFiles.Records(database, AuthenticationJobsGrain.JournalGrainType);
        Assert.Equal(45, journal.Count);
        Assert.All(journal, r => Assert.True(r.Bytes < 1_000, $"{r.Key}: {r.Bytes} bytes"));

        var crashed = SqliteStoreFiles.CrashCopy(database, folder.File("crashed.db"));
        await using var afterCrash = await StartAsync(crashed);
        var waiting = await afterCrash.GrainFactory.GetGrain<IAuthenticationJobsGrain>(AuthenticationJobsGrain.Key).List();
        Assert.Equal(Enumerable.Range(10, 20).Select(i => $"job-{i:D2}"), waiting.Select(j => j.Id).Order(StringComparer.Ordinal));
        var retried = waiting.Single(j => j.Id == "job-12");
        Assert.Equal((1, now.AddMinutes(1), "model busy"), (retried.Attempts, retried.NextAttemptAt, retried.LastError));
    }

    private static Task<TestSilo> StartAsync(string database) =>
        TestSilo.StartAsync(s => s.Services.AddSqliteGrainStorageAsDefault(database));
}
