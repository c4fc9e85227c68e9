using System.Diagnostics;
using Orleans.Runtime;
using Xunit.Abstractions;

namespace Entrupy.Persistence.AzureStorage.Tests;

[Alias("Entrupy.Persistence.AzureStorage.Tests.IAzureCounterGrain")]
public interface IAzureCounterGrain : IGrainWithStringKey
{
    [Alias("Increment")]
    Task<int> Increment();

    [Alias("Get")]
    Task<int> Get();

    [Alias("ValueSeenAtActivation")]
    Task<int> ValueSeenAtActivation();
}

/// <summary>A counter in Azure grain state that, like most grains, does not catch its own write failures.</summary>
public sealed class AzureCounterGrain([PersistentState("counter")] IPersistentState<AzureCounter> state) : Grain, IAzureCounterGrain
{
    private int _seenAtActivation = -1;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _seenAtActivation = state.State.Value;
        return Task.CompletedTask;
    }

    public async Task<int> Increment()
    {
        state.State.Value++;
        await state.WriteStateAsync();
        return state.State.Value;
    }

    public Task<int> Get() => Task.FromResult(state.State.Value);

    public Task<int> ValueSeenAtActivation() => Task.FromResult(_seenAtActivation);
}

public sealed class AzureCounter
{
    public int Value { get; set; }
}

/// <summary>
/// A [PersistentState] grain on Orleans' Azure Blob storage (AddAzureBlobGrainStorageAsDefault) and a real Azurite:
/// its state survives a silo restart, and a write that failed in an outage is not in storage (though, on Orleans, the
/// activation that failed to write it still holds it in memory).
/// </summary>
public sealed class GrainOnAzureTests(ITestOutputHelper output)
{
    [AzuriteFact]
    public async Task State_survives_a_silo_restart()
    {
        await using var azurite = await AzuriteProcess.StartAsync();
        var container = AzureSilo.NewContainer("restart");
        await using (var cluster = await AzureSilo.DeployAsync(azurite.ConnectionString, container))
        {
            var counter = cluster.Client.GetGrain<IAzureCounterGrain>("bag-1");
            Assert.Equal(0, await counter.ValueSeenAtActivation());
            for (var i = 1; i <= 3; i++) Assert.Equal(i, await counter.Increment());
        }

        await using (var cluster = await AzureSilo.DeployAsync(azurite.ConnectionString, container))
        {
            var counter = cluster.Client.GetGrain<IAzureCounterGrain>("bag-1");
            Assert.Equal(3, await counter.ValueSeenAtActivation());
            Assert.Equal(4, await counter.Increment());
            Assert.Equal(0, await cluster.Client.GetGrain<IAzureCounterGrain>("bag-2").Get());
        }
    }

    [AzuriteFact]
    public async Task A_write_that_failed_in_an_outage_is_neither_stored_nor_served_from_memory()
    {
        await using var azurite = await AzuriteProcess.StartAsync();
        var defaults = AzureBlobGrainStorageHostingExtensions.ClientOptionsFrom(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        await using var cluster = await AzureSilo.DeployAsync(azurite.ConnectionString, "counters", defaults);
        var counter = cluster.Client.GetGrain<IAzureCounterGrain>("outage");
        for (var i = 1; i <= 3; i++) Assert.Equal(i, await counter.Increment());

        await azurite.StopAsync();
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => counter.Increment());
        output.WriteLine($"grain call failed after {clock.Elapsed.TotalMilliseconds:F0} ms: {error.GetType().FullName}: {error.Message.ReplaceLineEndings(" ")}");
        // What a caller of the grain (the HTTP API) receives: Orleans' state bridge wraps every provider failure other
        // than an ETag conflict in an OrleansException ("Error from storage provider …"), the SDK's exception inside.
        Assert.IsType<OrleansException>(error);
        Assert.IsType<AggregateException>(error.InnerException);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the failing call took {clock.Elapsed}");

        await azurite.RestartAsync();
        await azurite.EnsureServingAsync(TimeSpan.FromSeconds(20));
        // Orleans alone would keep the activation whose write failed, answering from the change it never stored;
        // StateWriteFailureFilter deactivates it, so the next call reads what storage has.
        var stored = new Orleans.GrainState<AzureCounter>(new AzureCounter());
        await cluster.Storage().ReadStateAsync("counter", GrainId.Create("azurecounter", "outage"), stored);
        Assert.Equal(3, stored.State!.Value);
        Assert.Equal(3, await counter.Get());
        Assert.Equal(3, await counter.ValueSeenAtActivation());
        Assert.Equal(4, await counter.Increment());
    }
}
