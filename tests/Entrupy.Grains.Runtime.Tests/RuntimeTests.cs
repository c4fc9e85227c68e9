using System.Diagnostics;
using Entrupy.Grains.Persistence;
using Entrupy.Grains.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Grains.Runtime.Tests;

public sealed class TurnBasedTests
{
    [Fact]
    public async Task Calls_to_one_activation_never_overlap_under_heavy_concurrency()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grains = Enumerable.Range(0, 4).Select(i => cluster.GrainFactory.GetGrain<IInterleavingGrain>("g" + i)).ToArray();
        const int callsPerGrain = 300;
        // Callers on the thread pool, each hammering every grain: plenty of contention on each activation.
        var callers = Enumerable.Range(0, 16).Select(c => Task.Run(async () =>
        {
            for (var i = 0; i < callsPerGrain * grains.Length / 16; i++)
                await grains[(c + i) % grains.Length].Work(yields: 2);
        }));
        await Task.WhenAll(callers);

        foreach (var grain in grains)
        {
            Assert.Equal(0, await grain.GetOverlaps());
            Assert.Equal(0, await grain.GetParallel());
            Assert.Equal(callsPerGrain, await grain.GetCount()); // no lost update across the await
        }
    }

    [Fact]
    public async Task Reentrant_grain_interleaves_but_never_runs_in_parallel()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<IReentrantInterleavingGrain>("r");
        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() => grain.Work(yields: 4))));

        Assert.True(await grain.GetOverlaps() > 0, "a [Reentrant] grain should interleave calls at awaits");
        Assert.Equal(0, await grain.GetParallel());
    }

    [Fact]
    public async Task AlwaysInterleave_method_runs_while_a_call_is_in_progress()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<IInterleavingGrain>("peek");
        await grain.GetCount(); // activate first: queued behind an activation, an interleaving call may overtake Hold
        var held = grain.Hold(); // holds its turn until released
        Assert.False(held.IsCompleted);
        var inside = await grain.PeekAndRelease(); // would wait forever (then time out) if it could not interleave
        await held;
        Assert.Equal(1, inside);
    }

    [Fact]
    public async Task Call_cycle_between_non_reentrant_grains_is_reported_with_the_cycle()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        foreach (var yieldFirst in new[] { false, true }) // inline path and queued path
        {
            var a = cluster.GrainFactory.GetGrain<IDeadlockAGrain>(yieldFirst ? 11 : 1);
            var sw = Stopwatch.StartNew();
            var ex = await Assert.ThrowsAsync<DeadlockException>(() => a.CallB(yieldFirst ? 12 : 2, yieldFirst));
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), "the cycle is detected, not timed out");
            var aId = yieldFirst ? "deadlocka/11" : "deadlocka/1";
            var bId = yieldFirst ? "deadlockb/12" : "deadlockb/2";
            Assert.Contains($"{aId} → {bId} → {aId}", ex.Message);
            Assert.Contains("IDeadlockAGrain.Ping", ex.Message);
            Assert.Equal([aId, bId, aId], ex.CallChain.Select(g => g.ToString()));
        }
    }

    [Fact]
    public async Task Sequential_caller_returns_to_the_inline_path_after_a_queued_call()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<IPingGrain>(7);
        // On the thread pool (no synchronization context), like a request handler: the continuation of the queued
        // call runs inline where the activation completes it.
        await Task.Run(async () =>
        {
            Assert.Equal(1, await grain.Ping(0)); // first call: queued behind the activation turn
            for (var i = 0; i < 100; i++)
            {
                var call = grain.Ping(i);
                Assert.True(call.IsCompletedSuccessfully, $"call {i} was queued although the grain was idle");
                Assert.Equal(i + 1, await call);
            }
        });
    }

    [Fact]
    public async Task Reentrant_grain_accepts_a_call_cycle()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        var a = cluster.GrainFactory.GetGrain<IReentrantAGrain>(1);
        Assert.Equal("pong", await a.CallB(2));
    }
}

public sealed class StatelessWorkerTests
{
    [Fact]
    public async Task Pool_grows_to_its_maximum_under_load_and_no_further()
    {
        var (cluster, probe) = await Clusters.StartAsync();
        await using var _c = cluster;
        var worker = cluster.GrainFactory.GetGrain<IWorkerGrain>(0);
        var instances = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => worker.Work(20)));

        Assert.Equal(3, probe.Get("worker.maxConcurrent"));
        Assert.Equal(3, probe.Get("worker.instances"));
        Assert.Equal(3, instances.Distinct().Count());
        Assert.Equal(0, probe.Get("worker.overlap")); // each worker activation is still turn-based
        Assert.Equal(3, cluster.GetStatistics("worker").Activations);
    }
}

public sealed class TimeoutAndCancellationTests
{
    [Fact]
    public async Task Method_timeout_fires_with_grain_and_method_in_the_message()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<ISlowGrain>("t1");
        var sw = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<GrainCallTimeoutException>(() => grain.Hang());
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(2));
        Assert.IsAssignableFrom<TimeoutException>(ex);
        Assert.Contains("ISlowGrain.Hang", ex.Message);
        Assert.Contains("slow/t1", ex.Message);
        Assert.Equal(TimeSpan.FromMilliseconds(200), ex.Timeout);
    }

    [Fact]
    public async Task Silo_default_timeout_applies_to_queued_calls_too()
    {
        var (cluster, _) = await Clusters.StartAsync(o => o.DefaultResponseTimeout = TimeSpan.FromMilliseconds(250));
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<ISlowGrain>("t2");
        var first = grain.HangWithSiloDefault();
        var queued = grain.Quick(); // waits behind the hanging call
        var ex = await Assert.ThrowsAsync<GrainCallTimeoutException>(() => queued);
        Assert.Contains("ISlowGrain.Quick", ex.Message);
        await Assert.ThrowsAsync<GrainCallTimeoutException>(() => first);
    }

    [Fact]
    public async Task Cancellation_token_reaches_the_grain_and_is_propagated_to_the_next()
    {
        var (cluster, probe) = await Clusters.StartAsync();
        await using var _c = cluster;
        var front = cluster.GrainFactory.GetGrain<ISlowGrain>("front");
        using var cts = new CancellationTokenSource();
        var call = front.ForwardCancellation("back", cts.Token);
        await Probe.WaitUntil(() => probe.Events.Contains("back waiting"));
        Assert.False(call.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await Probe.WaitUntil(() => probe.Events.Contains("back cancelled"));
    }

    [Fact]
    public async Task A_call_cancelled_before_it_starts_never_runs()
    {
        var (cluster, probe) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<ISlowGrain>("c2");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => grain.WaitForCancellation(cts.Token));
        Assert.DoesNotContain("c2 waiting", probe.Events);
    }
}

public sealed class LifecycleTests
{
    [Fact]
    public async Task Timer_ticks_as_turns_and_stops_on_deactivation()
    {
        var (cluster, probe) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<ILifecycleGrain>("timer");
        await grain.StartTimer(periodMs: 10);
        for (var i = 0; i < 20; i++) await grain.Activation(); // calls while the timer ticks
        await Probe.WaitUntil(() => probe.Get("timer.ticks") >= 5);
        Assert.False(await grain.TimerOverlappedCall());

        await grain.Deactivate();
        await Probe.WaitUntil(() => probe.Get("timer.deactivations") == 1);
        var ticks = probe.Get("timer.ticks");
        await Task.Delay(100);
        Assert.Equal(ticks, probe.Get("timer.ticks"));
        Assert.Contains("timer deactivated ApplicationRequested", probe.Events);
    }

    [Fact]
    public async Task Idle_activation_is_collected_and_the_next_call_reactivates()
    {
        var (cluster, probe) = await Clusters.StartAsync(o => o.ActivationIdleTimeout = TimeSpan.FromMilliseconds(150));
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<ILifecycleGrain>("idle");
        Assert.Equal(1, await grain.Activation());
        Assert.Equal(1, cluster.GetStatistics("lifecycle").Activations);

        await Probe.WaitUntil(() => probe.Get("idle.deactivations") == 1, TimeSpan.FromSeconds(3));
        Assert.Contains("idle deactivated IdleCollection", probe.Events);
        await Probe.WaitUntil(() => cluster.GetStatistics("lifecycle").Activations == 0);

        Assert.Equal(2, await grain.Activation());
        Assert.Equal(2, probe.Get("idle.activations"));
    }

    [Fact]
    public async Task Busy_activation_is_not_collected()
    {
        var (cluster, probe) = await Clusters.StartAsync(o => o.ActivationIdleTimeout = TimeSpan.FromMilliseconds(150));
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<ILifecycleGrain>("busy");
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 500)
        {
            await grain.Activation();
            await Task.Delay(20);
        }
        Assert.Equal(0, probe.Get("busy.deactivations"));
    }

    [Fact]
    public async Task Calls_queued_behind_a_deactivation_reach_a_new_activation()
    {
        var (cluster, probe) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<ILifecycleGrain>("redeliver");
        await grain.Activation();
        var deactivate = grain.Deactivate();
        var next = Enumerable.Range(0, 10).Select(_ => grain.Activation()).ToArray();
        await deactivate;
        var seen = await Task.WhenAll(next);
        Assert.All(seen, a => Assert.True(a >= 1));
        Assert.Equal(2, probe.Get("redeliver.activations"));
    }

    [Fact]
    public async Task Stopping_the_silo_deactivates_grains()
    {
        var (cluster, probe) = await Clusters.StartAsync();
        var grain = cluster.GrainFactory.GetGrain<ILifecycleGrain>("stop");
        await grain.Activation();
        await cluster.DisposeAsync();
        Assert.Contains("stop deactivated ShuttingDown", probe.Events);
    }

    [Fact]
    public async Task Persistent_state_is_created_by_the_factory_and_read_before_OnActivateAsync()
    {
        var factory = new MemoryStateFactory();
        await using var cluster = await new TestClusterBuilder()
            .AddGrain<StatefulGrain>()
            .ConfigureServices(s => s.AddSingleton<IPersistentStateFactory>(factory))
            .DeployAsync();
        factory.Stored["stateful/k/counter"] = 7;

        Assert.Equal(7, await cluster.GrainFactory.GetGrain<IStatefulGrain>("k").ValueSeenAtActivation());
        Assert.Equal(["stateful/k/counter@memory"], factory.Created);
    }

    [Fact]
    public async Task Grain_state_written_through_the_memory_provider_is_read_by_the_next_activation()
    {
        await using var cluster = await new TestClusterBuilder()
            .AddGrain<PersistedCounterGrain>()
            .ConfigureServices(s => s.AddMemoryGrainStorage("memory"))
            .DeployAsync();
        var grain = cluster.GrainFactory.GetGrain<IPersistedCounterGrain>("c");
        Assert.Equal(0, await grain.ValueSeenAtActivation());
        Assert.Equal(1, await grain.Increment());
        Assert.Equal(2, await grain.Increment());
        await grain.Deactivate();
        await Probe.WaitUntil(() => cluster.GetStatistics("persistedcounter").Activations == 0);
        Assert.Equal(2, await grain.ValueSeenAtActivation());
    }

    private sealed class MemoryStateFactory : IPersistentStateFactory
    {
        public Dictionary<string, int> Stored { get; } = new();

        public List<string> Created { get; } = [];

        public IStorage Create(string grainType, string grainKey, Type stateType, PersistentStateAttribute attribute)
        {
            Assert.Equal(typeof(Counter), stateType);
            Created.Add($"{grainType}/{grainKey}/{attribute.StateName}@{attribute.StorageName}");
            return new MemoryState(this, $"{grainType}/{grainKey}/{attribute.StateName}");
        }

        private sealed class MemoryState(MemoryStateFactory owner, string key) : IPersistentState<Counter>
        {
            public Counter State { get; set; } = new();

            public string? Etag { get; private set; }

            public bool RecordExists { get; private set; }

            public Task ReadStateAsync(CancellationToken cancellationToken = default)
            {
                RecordExists = owner.Stored.TryGetValue(key, out var value);
                State = new Counter { Value = value };
                Etag = RecordExists ? "1" : null;
                return Task.CompletedTask;
            }

            public Task WriteStateAsync(CancellationToken cancellationToken = default)
            {
                owner.Stored[key] = State.Value;
                return Task.CompletedTask;
            }

            public Task ClearStateAsync(CancellationToken cancellationToken = default)
            {
                owner.Stored.Remove(key);
                return Task.CompletedTask;
            }
        }
    }
}

public sealed class SerializationTests
{
    [Fact]
    public async Task Arguments_and_results_are_copies_when_round_tripping()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<ISerializationGrain>("s");
        var numbers = new List<int> { 1, 2 };
        Assert.Equal(3, await grain.AddToList(numbers));
        Assert.Equal([1, 2], numbers); // the grain mutated its own copy

        var basket = new Basket { Items = ["a"] };
        var returned = await grain.Keep(basket);
        basket.Items.Add("b");
        returned.Items.Add("c");
        returned.Items.Add("d");
        Assert.Equal(1, await grain.KeptCount()); // neither the argument nor the result is shared with the grain
    }

    [Fact]
    public async Task Without_round_tripping_the_same_objects_are_shared()
    {
        // The control for the test above: it can fail.
        var (cluster, _) = await Clusters.StartAsync(o => o.RoundTripCallsThroughSerializer = false);
        await using var _c = cluster;
        var numbers = new List<int> { 1, 2 };
        await cluster.GrainFactory.GetGrain<ISerializationGrain>("s").AddToList(numbers);
        Assert.Equal([1, 2, 99], numbers);
    }

    [Fact]
    public async Task Grain_references_and_tuples_cross_the_serializer()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<ISerializationGrain>("s");
        Assert.Equal("pong from 5", await grain.PingOther(cluster.GrainFactory.GetGrain<IDeadlockAGrain>(5)));
        Assert.Equal((7, "x"), await grain.Tuple((3, 4), "x"));
    }

    [Theory]
    [InlineData(typeof(StreamGrain), "System.IO.Stream", "IStreamGrain.Upload")]
    [InlineData(typeof(CallbackGrain), "System.Func`1[System.Int32]", "ICallbackGrain.Compute")]
    [InlineData(typeof(NoCtorGrain), "NoUsableConstructor", "INoCtorGrain.Make")]
    public async Task Non_serializable_types_are_rejected_at_startup_naming_type_and_method(Type grainClass, string typeName, string method)
    {
        var builder = new TestClusterBuilder();
        builder.SiloBuilder.AddGrain(grainClass);
        var ex = await Assert.ThrowsAsync<GrainSerializationException>(() => builder.DeployAsync());
        Assert.Contains(typeName, ex.Message);
        Assert.Contains(method, ex.Message);
    }

    [Fact]
    public async Task Non_serializable_argument_fails_on_first_call_when_startup_validation_is_off()
    {
        await using var cluster = await new TestClusterBuilder()
            .AddGrain<StreamGrain>()
            .ConfigureSilo(o => o.ValidateSerializableTypesAtStartup = false)
            .DeployAsync();
        var ex = await Assert.ThrowsAsync<GrainSerializationException>(
            () => cluster.GrainFactory.GetGrain<IStreamGrain>("x").Upload(new MemoryStream([1, 2, 3])));
        Assert.Contains("System.IO.Stream", ex.Message);
        Assert.Contains("IStreamGrain.Upload", ex.Message);
    }
}

public sealed class StatisticsTests
{
    [Fact]
    public async Task Calls_failures_activations_and_latency_are_counted_per_grain_type()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        for (var i = 0; i < 10; i++) Assert.Equal(i + 1, await cluster.GrainFactory.GetGrain<IPingGrain>(i % 2).Ping(i));
        for (var i = 0; i < 3; i++)
            await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.GrainFactory.GetGrain<IPingGrain>(0).Fail("boom"));

        var stats = cluster.GetStatistics("ping");
        Assert.Equal(13, stats.Calls);
        Assert.Equal(3, stats.Failures);
        Assert.Equal(2, stats.Activations);
        Assert.Equal(13, stats.Latency.Count);
        Assert.True(stats.Latency.GetPercentile(50) > TimeSpan.Zero);
        Assert.True(stats.Latency.GetPercentile(99) >= stats.Latency.GetPercentile(50));
        Assert.Equal(0, cluster.GetStatistics("slow").Calls);
    }

    [Fact]
    public void Histogram_buckets_are_log_scale_and_percentiles_bound_the_samples()
    {
        var counts = new long[LatencyHistogram.BucketCount];
        foreach (var ns in new long[] { 900, 1_000, 1_100, 1_200, 50_000 }) counts[LatencyHistogram.BucketOf(ns)]++;
        var h = new LatencyHistogram(counts);
        for (var b = 1; b < LatencyHistogram.BucketCount - 1; b++)
        {
            Assert.True(LatencyHistogram.BucketLowerBound(b) > LatencyHistogram.BucketLowerBound(b - 1));
            Assert.Equal(b, LatencyHistogram.BucketOf(LatencyHistogram.BucketLowerBound(b)));
        }
        var p50 = h.GetPercentile(50);
        Assert.InRange(p50.TotalNanoseconds, 1_100, 1_300);
        Assert.InRange(h.GetPercentile(99).TotalNanoseconds, 50_000, 60_000);
    }
}

public sealed class ReferenceTests
{
    [Fact]
    public async Task References_are_cheap_equal_by_id_and_carry_the_key()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        var a = cluster.GrainFactory.GetGrain<IPingGrain>(42);
        var b = cluster.GrainFactory.GetGrain<IPingGrain>(42);
        Assert.NotSame(a, b);
        Assert.Equal(a, b);
        Assert.Equal(42, a.GetPrimaryKeyLong());
        Assert.Equal(new GrainId("ping", "42"), a.GetGrainId());
        Assert.Equal(0, cluster.GetStatistics("ping").Activations); // a reference activates nothing
        Assert.Throws<ArgumentException>(() => cluster.GrainFactory.GetGrain<IStatefulGrain>("not hosted"));
    }
}

public sealed class HostingTests
{
    [Fact]
    public async Task Silo_runs_inside_a_generic_host_and_serves_IGrainFactory_from_DI()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddGrainSilo(silo => silo.AddGrain<PingGrain>().Configure(o => o.DefaultResponseTimeout = TimeSpan.FromSeconds(5)));
        using var host = builder.Build();
        await host.StartAsync();
        var factory = host.Services.GetRequiredService<IGrainFactory>();
        Assert.Equal(2, await factory.GetGrain<IPingGrain>(1).Ping(1));
        Assert.Equal(1, host.Services.GetRequiredService<ISiloStatistics>().GetGrainTypeStatistics().Single().Calls);
        await host.StopAsync();
    }

    [Fact]
    public async Task Silo_starts_and_stops_in_milliseconds()
    {
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < 5; i++)
        {
            var (cluster, _) = await Clusters.StartAsync();
            await cluster.GrainFactory.GetGrain<IPingGrain>(i).Ping(i);
            await cluster.DisposeAsync();
        }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"5 start/call/stop cycles took {sw.Elapsed}");
    }
}

public sealed class ExecutionContextTests
{
    private static readonly AsyncLocal<string?> Ambient = new();

    [Fact]
    public async Task Calls_work_with_suppressed_flow_and_leave_the_callers_context_as_it_was()
    {
        var (cluster, _) = await Clusters.StartAsync();
        await using var _c = cluster;
        var grain = cluster.GrainFactory.GetGrain<IPingGrain>(1);
        await Task.Run(async () =>
        {
            await grain.Ping(0); // activate (queued); the continuation runs where the activation completes it
            Ambient.Value = "caller";
            using (ExecutionContext.SuppressFlow())
            {
                var call = grain.Ping(1);
                Assert.True(call.IsCompletedSuccessfully); // ran inline, under the suppressed flow
                Assert.Equal(2, call.Result);
                Assert.True(ExecutionContext.IsFlowSuppressed());
            }
            Assert.False(ExecutionContext.IsFlowSuppressed());
            Assert.Equal("caller", Ambient.Value);
        });
    }
}

public sealed class GeneratedReferenceTests
{
    [Fact]
    public async Task Inherited_methods_overloads_keyword_and_clashing_parameter_names_work()
    {
        await using var cluster = await new TestClusterBuilder().AddGrain<GreeterGrain>().DeployAsync();
        var greeter = cluster.GrainFactory.GetGrain<IGreeterGrain>("g");
        Assert.Equal("hello g", await greeter.Hello());
        Assert.Equal("hello g", await cluster.GrainFactory.GetGrain<IGreeterBaseGrain>("g").Hello());
        Assert.Equal("bye ann", await greeter.Bye("ann"));
        Assert.Equal("bye bye x", await greeter.Bye(2, "x"));
        await greeter.Remember("a", 1);
        await greeter.Remember("b", 2, CancellationToken.None);
        Assert.Equal(["a:1", "b:2"], await greeter.Remembered());
        Assert.Equal(1, cluster.GetStatistics("greeter").Activations); // both interfaces reach the same activation
    }
}
