using System.Diagnostics;
using Entrupy.Grains.Testing;

namespace Entrupy.Grains.Persistence.AzureStorage.Tests;

public interface IAzureCounterGrain : IGrainWithStringKey
{
    Task<int> Increment();

    Task<int> Get();

    Task<int> ValueSeenAtActivation();
}

/// <summary>A counter in Azure grain state that, like most grains, does not catch its own write failures.</summary>
public sealed class AzureCounterGrain([PersistentState("counter")] IPersistentState<AzureCounter> state) : Grain, IAzureCounterGrain
{
    private int seenAtActivation = -1;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        seenAtActivation = state.State.Value;
        return Task.CompletedTask;
    }

    public async Task<int> Increment()
    {
        state.State.Value++;
        await state.WriteStateAsync();
        return state.State.Value;
    }

    public Task<int> Get() => Task.FromResult(state.State.Value);

    public Task<int> ValueSeenAtActivation() => Task.FromResult(seenAtActivation);
}

public sealed class AzureCounter
{
    public int Value { get; set; }
}

/// <summary>
/// Grains on Azure state, through a real in-process silo and a real Azurite: a write that failed (outage, ETag race)
/// never leaves the activation claiming the change, because the runtime drops an activation whose write failed.
/// </summary>
public sealed class GrainOnAzureTests
{
    private static Task<TestCluster> StartSiloAsync(string connectionString, string container) => new TestClusterBuilder()
        .AddGrain<AzureCounterGrain>()
        .ConfigureSilo(o => o.ActivationIdleTimeout = TimeSpan.FromMinutes(5))
        .ConfigureServices(s => s.AddAzureBlobGrainStorage(GrainStorageNames.Default, connectionString, container))
        .DeployAsync();

    [AzuriteFact]
    public async Task A_write_that_failed_in_an_outage_is_not_seen_as_durable_by_the_next_call()
    {
        await using var azurite = await AzuriteProcess.StartAsync();
        await using var silo = await StartSiloAsync(azurite.ConnectionString, "counters");
        var counter = silo.GrainFactory.GetGrain<IAzureCounterGrain>("outage");
        for (var i = 1; i <= 3; i++) Assert.Equal(i, await counter.Increment());

        await azurite.StopAsync();
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<StorageUnavailableException>(() => counter.Increment());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the failing call took {clock.Elapsed}");
        // While storage is down the grain cannot even activate: every call fails fast, none answers from stale memory.
        clock.Restart();
        await Assert.ThrowsAsync<StorageUnavailableException>(() => counter.Get());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the failing read took {clock.Elapsed}");

        await azurite.RestartAsync();
        // The 4 the failed call held in memory was never acknowledged; a new activation read what storage has.
        Assert.Equal(3, await counter.Get());
        Assert.Equal(3, await counter.ValueSeenAtActivation());
        Assert.Equal(4, await counter.Increment());
    }

    [AzuriteFact]
    public async Task A_silo_that_loses_an_etag_race_gets_the_typed_conflict_and_its_next_call_starts_from_storage()
    {
        await using var azurite = await AzuriteProcess.StartAsync();
        await using var siloA = await StartSiloAsync(azurite.ConnectionString, "race");
        await using var siloB = await StartSiloAsync(azurite.ConnectionString, "race");
        var onA = siloA.GrainFactory.GetGrain<IAzureCounterGrain>("contended");
        var onB = siloB.GrainFactory.GetGrain<IAzureCounterGrain>("contended");
        Assert.Equal(0, await onA.ValueSeenAtActivation());
        Assert.Equal(0, await onB.ValueSeenAtActivation());

        var acknowledged = 0;
        for (var round = 0; round < 6; round++)
        {
            // Both silos increment "at once" from what they last saw; with one ETag only one write can win.
            var results = await Task.WhenAll(Try(onA.Increment()), Try(onB.Increment()));
            Assert.All(results.Where(r => r.Error is not null), r => Assert.IsType<InconsistentStateException>(r.Error));
            acknowledged += results.Count(r => r.Error is null);
        }

        // Retrying a conflicted increment is safe (re-read, then reapply on top): no acknowledged increment is lost and
        // none is counted twice.
        Assert.True(acknowledged >= 6, $"only {acknowledged} increments won in 6 rounds");
        var viaA = await Retry(() => onA.Increment());
        var viaB = await Retry(() => onB.Increment());
        Assert.Equal(acknowledged + 1, viaA);
        Assert.Equal(acknowledged + 2, viaB);
    }

    private static async Task<(int Value, Exception? Error)> Try(Task<int> call)
    {
        try
        {
            return (await call, null);
        }
        catch (Exception e)
        {
            return (0, e);
        }
    }

    private static async Task<int> Retry(Func<Task<int>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (InconsistentStateException) when (attempt < 3)
            {
                // The conflicted activation is gone; the retry runs on a fresh one that read the winner's state.
            }
        }
    }
}
