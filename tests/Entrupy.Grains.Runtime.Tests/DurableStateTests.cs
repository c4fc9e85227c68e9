using Entrupy.Grains.Persistence;
using Entrupy.Grains.Persistence.Sqlite;
using Entrupy.Grains.Testing;

namespace Entrupy.Grains.Runtime.Tests;

public interface IDurableCounterGrain : IGrainWithStringKey
{
    Task<int> Increment();

    Task<int> ValueSeenAtActivation();
}

/// <summary>Keeps its counter in the default provider, which these tests back with a real SQLite file.</summary>
public sealed class DurableCounterGrain([PersistentState("counter")] IPersistentState<Counter> state) : Grain, IDurableCounterGrain
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

    public Task<int> ValueSeenAtActivation() => Task.FromResult(seenAtActivation);
}

public sealed class DurableStateTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "entrupy-durable-" + Guid.NewGuid().ToString("N")[..8]);

    public DurableStateTests() => Directory.CreateDirectory(folder);

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private Task<TestCluster> StartAsync(TimeSpan idleTimeout) => new TestClusterBuilder()
        .AddGrain<DurableCounterGrain>()
        .ConfigureSilo(o => o.ActivationIdleTimeout = idleTimeout)
        .ConfigureServices(s => s.AddSqliteGrainStorage(Path.Combine(folder, "grains.db")))
        .DeployAsync();

    [Fact]
    public async Task Idle_collection_then_reactivation_restores_state_from_sqlite()
    {
        await using var cluster = await StartAsync(TimeSpan.FromMilliseconds(150));
        var grain = cluster.GrainFactory.GetGrain<IDurableCounterGrain>("c");
        Assert.Equal(0, await grain.ValueSeenAtActivation());
        Assert.Equal(1, await grain.Increment());
        Assert.Equal(2, await grain.Increment());

        await Probe.WaitUntil(() => cluster.GetStatistics("durablecounter").Activations == 0, TimeSpan.FromSeconds(5));

        Assert.Equal(2, await grain.ValueSeenAtActivation());
        Assert.Equal(3, await grain.Increment());
    }

    [Fact]
    public async Task State_survives_a_silo_restart_on_the_same_file()
    {
        await using (var first = await StartAsync(TimeSpan.FromMinutes(5)))
        {
            var grain = first.GrainFactory.GetGrain<IDurableCounterGrain>("restart");
            for (var i = 0; i < 5; i++) await grain.Increment();
        }

        await using var second = await StartAsync(TimeSpan.FromMinutes(5));
        Assert.Equal(5, await second.GrainFactory.GetGrain<IDurableCounterGrain>("restart").ValueSeenAtActivation());
    }

    [Fact]
    public async Task A_second_silo_writing_the_same_grain_with_a_stale_etag_gets_the_typed_conflict()
    {
        // Two silos on one file each activate the grain: the later writer holds a stale ETag and must not overwrite.
        await using var a = await StartAsync(TimeSpan.FromMinutes(5));
        await using var b = await StartAsync(TimeSpan.FromMinutes(5));
        var onA = a.GrainFactory.GetGrain<IDurableCounterGrain>("contended");
        var onB = b.GrainFactory.GetGrain<IDurableCounterGrain>("contended");
        Assert.Equal(0, await onA.ValueSeenAtActivation());
        Assert.Equal(0, await onB.ValueSeenAtActivation());

        Assert.Equal(1, await onA.Increment());
        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => onB.Increment());
        Assert.Contains("contended", conflict.Message);
    }
}
