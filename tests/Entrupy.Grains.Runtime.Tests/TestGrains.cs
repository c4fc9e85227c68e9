using System.Collections.Concurrent;
using Entrupy.Grains;
using Entrupy.Grains.Persistence;

namespace Entrupy.Grains.Runtime.Tests;

/// <summary>Shared observations of one test (a DI singleton, so each cluster has its own).</summary>
public sealed class Probe
{
    private readonly ConcurrentDictionary<string, long> _counters = new();
    private readonly ConcurrentQueue<string> _events = new();

    public long Get(string name) => _counters.TryGetValue(name, out var v) ? v : 0;

    public long Increment(string name) => _counters.AddOrUpdate(name, 1, (_, v) => v + 1);

    public long Decrement(string name) => _counters.AddOrUpdate(name, -1, (_, v) => v - 1);

    public void Max(string name, long value) => _counters.AddOrUpdate(name, value, (_, v) => Math.Max(v, value));

    public void Event(string e) => _events.Enqueue(e);

    public IReadOnlyList<string> Events => _events.ToArray();

    public static async Task WaitUntil(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Condition not reached in time.");
            await Task.Delay(10);
        }
    }
}

// ---- interleaving detection ----------------------------------------------------------------------------------

public interface IInterleavingGrain : IGrainWithStringKey
{
    Task<int> Work(int yields);

    Task Hold();

    [AlwaysInterleave]
    [ResponseTimeout("00:00:05")]
    Task<int> PeekAndRelease();

    ValueTask<int> GetOverlaps();

    ValueTask<int> GetParallel();

    ValueTask<long> GetCount();
}

/// <summary>Counts calls that overlap (interleave at awaits) and code that runs in parallel (two threads at once).</summary>
public abstract class InterleavingGrainBase : Grain
{
    private int _inside;
    private int _overlaps;
    private int _inSyncSection;
    private int _parallel;
    private long _count;

    public async Task<int> Work(int yields)
    {
        _inside++;
        if (_inside > 1) _overlaps++;
        for (var i = 0; i < yields; i++)
        {
            SyncSection();
            if (i % 2 == 0) await Task.Yield();
            else await Task.Delay(1);
        }
        var before = _count;
        await Task.Yield();
        _count = before + 1; // lost updates show up if two calls interleave here
        _inside--;
        return _inside;
    }

    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task Hold()
    {
        _inside++;
        await _gate.Task;
        _inside--;
    }

    public Task<int> PeekAndRelease()
    {
        var inside = _inside;
        _gate.TrySetResult();
        return Task.FromResult(inside);
    }

    public ValueTask<int> GetOverlaps() => ValueTask.FromResult(_overlaps);

    public ValueTask<int> GetParallel() => ValueTask.FromResult(_parallel);

    public ValueTask<long> GetCount() => ValueTask.FromResult(_count);

    private void SyncSection()
    {
        if (Interlocked.Exchange(ref _inSyncSection, 1) == 1) Interlocked.Increment(ref _parallel);
        Thread.SpinWait(200);
        Volatile.Write(ref _inSyncSection, 0);
    }
}

public interface IReentrantInterleavingGrain : IGrainWithStringKey
{
    Task<int> Work(int yields);

    ValueTask<int> GetOverlaps();

    ValueTask<int> GetParallel();
}

public sealed class InterleavingGrain : InterleavingGrainBase, IInterleavingGrain
{
}

[Reentrant]
public sealed class ReentrantInterleavingGrain : InterleavingGrainBase, IReentrantInterleavingGrain
{
}

// ---- deadlocks ------------------------------------------------------------------------------------------------

public interface IDeadlockAGrain : IGrainWithIntegerKey
{
    Task<string> CallB(long bKey, bool yieldFirst);

    Task<string> Ping();
}

public interface IDeadlockBGrain : IGrainWithIntegerKey
{
    Task<string> CallA(long aKey);
}

public sealed class DeadlockAGrain : Grain, IDeadlockAGrain
{
    public async Task<string> CallB(long bKey, bool yieldFirst)
    {
        if (yieldFirst) await Task.Delay(5);
        return await GrainFactory.GetGrain<IDeadlockBGrain>(bKey).CallA(GetPrimaryKeyLong());
    }

    public Task<string> Ping() => Task.FromResult("pong from " + GetPrimaryKeyLong());
}

public sealed class DeadlockBGrain : Grain, IDeadlockBGrain
{
    public Task<string> CallA(long aKey) => GrainFactory.GetGrain<IDeadlockAGrain>(aKey).Ping();
}

public interface IReentrantAGrain : IGrainWithIntegerKey
{
    Task<string> CallB(long bKey);

    Task<string> Ping();
}

public interface IReentrantBGrain : IGrainWithIntegerKey
{
    Task<string> CallA(long aKey);
}

[Reentrant]
public sealed class ReentrantAGrain : Grain, IReentrantAGrain
{
    public Task<string> CallB(long bKey) => GrainFactory.GetGrain<IReentrantBGrain>(bKey).CallA(GetPrimaryKeyLong());

    public Task<string> Ping() => Task.FromResult("pong");
}

public sealed class ReentrantBGrain : Grain, IReentrantBGrain
{
    public Task<string> CallA(long aKey) => GrainFactory.GetGrain<IReentrantAGrain>(aKey).Ping();
}

// ---- stateless workers ----------------------------------------------------------------------------------------

public interface IWorkerGrain : IGrainWithIntegerKey
{
    Task<long> Work(int milliseconds);
}

[StatelessWorker(3)]
public sealed class WorkerGrain(Probe probe) : Grain, IWorkerGrain
{
    private readonly long _instance = probe.Increment("worker.instances");
    private bool _busy;

    public async Task<long> Work(int milliseconds)
    {
        if (_busy) probe.Increment("worker.overlap");
        _busy = true;
        var now = probe.Increment("worker.concurrent");
        probe.Max("worker.maxConcurrent", now);
        await Task.Delay(milliseconds);
        probe.Decrement("worker.concurrent");
        _busy = false;
        return _instance;
    }
}

// ---- timeouts, cancellation -----------------------------------------------------------------------------------

public interface ISlowGrain : IGrainWithStringKey
{
    [ResponseTimeout("00:00:00.200")]
    Task Hang();

    Task HangWithSiloDefault();

    Task<string> WaitForCancellation(CancellationToken cancellationToken);

    Task<string> ForwardCancellation(string otherKey, CancellationToken cancellationToken);

    Task<int> Quick();
}

public sealed class SlowGrain(Probe probe) : Grain, ISlowGrain
{
    public Task Hang() => Task.Delay(TimeSpan.FromSeconds(3));

    public Task HangWithSiloDefault() => Task.Delay(TimeSpan.FromSeconds(3));

    public async Task<string> WaitForCancellation(CancellationToken cancellationToken)
    {
        probe.Event($"{GetPrimaryKeyString()} waiting");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return "not cancelled";
        }
        catch (OperationCanceledException)
        {
            probe.Event($"{GetPrimaryKeyString()} cancelled");
            throw;
        }
    }

    public Task<string> ForwardCancellation(string otherKey, CancellationToken cancellationToken)
        => GrainFactory.GetGrain<ISlowGrain>(otherKey).WaitForCancellation(cancellationToken);

    public Task<int> Quick() => Task.FromResult(42);
}

// ---- lifecycle: timers, collection, persistence hook ----------------------------------------------------------

public interface ILifecycleGrain : IGrainWithStringKey
{
    Task StartTimer(int periodMs);

    Task<long> Activation();

    Task Deactivate();

    Task<bool> TimerOverlappedCall();
}

public sealed class LifecycleGrain(Probe probe) : Grain, ILifecycleGrain
{
    private long _activation;
    private bool _inCall;
    private bool _overlap;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _activation = probe.Increment($"{GetPrimaryKeyString()}.activations");
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.Event($"{GetPrimaryKeyString()} deactivated {reason}");
        probe.Increment($"{GetPrimaryKeyString()}.deactivations");
        return Task.CompletedTask;
    }

    public Task StartTimer(int periodMs)
    {
        RegisterGrainTimer(async ct =>
        {
            if (_inCall) _overlap = true;
            probe.Increment($"{GetPrimaryKeyString()}.ticks");
            await Task.Yield();
        }, TimeSpan.FromMilliseconds(periodMs), TimeSpan.FromMilliseconds(periodMs));
        return Task.CompletedTask;
    }

    public async Task<long> Activation()
    {
        _inCall = true;
        await Task.Delay(2);
        _inCall = false;
        return _activation;
    }

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task<bool> TimerOverlappedCall() => Task.FromResult(_overlap);
}

public sealed class Counter
{
    public int Value { get; set; }
}

public interface IStatefulGrain : IGrainWithStringKey
{
    Task<int> ValueSeenAtActivation();
}

public sealed class StatefulGrain([PersistentState("counter", "memory")] IPersistentState<Counter> state) : Grain, IStatefulGrain
{
    private int _seen = -1;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _seen = state.State.Value;
        return Task.CompletedTask;
    }

    public Task<int> ValueSeenAtActivation() => Task.FromResult(_seen);
}

// ---- serialization --------------------------------------------------------------------------------------------

public sealed class Basket
{
    public List<string> Items { get; set; } = [];
}

public interface ISerializationGrain : IGrainWithStringKey
{
    Task<int> AddToList(List<int> numbers);

    Task<Basket> Keep(Basket basket);

    Task<int> KeptCount();

    Task<string> PingOther(IDeadlockAGrain other);

    Task<(int Sum, string Label)> Tuple((int A, int B) input, string label);
}

public sealed class SerializationGrain : Grain, ISerializationGrain
{
    private Basket? _kept;

    public Task<int> AddToList(List<int> numbers)
    {
        numbers.Add(99);
        return Task.FromResult(numbers.Count);
    }

    public Task<Basket> Keep(Basket basket)
    {
        _kept = basket;
        return Task.FromResult(basket);
    }

    public Task<int> KeptCount() => Task.FromResult(_kept?.Items.Count ?? -1);

    public Task<string> PingOther(IDeadlockAGrain other) => other.Ping();

    public Task<(int Sum, string Label)> Tuple((int A, int B) input, string label) => Task.FromResult((input.A + input.B, label));
}

public interface IStreamGrain : IGrainWithStringKey
{
    Task Upload(Stream data);
}

public sealed class StreamGrain : Grain, IStreamGrain
{
    public Task Upload(Stream data) => Task.CompletedTask;
}

public interface ICallbackGrain : IGrainWithStringKey
{
    Task<int> Compute(Func<int> callback);
}

public sealed class CallbackGrain : Grain, ICallbackGrain
{
    public Task<int> Compute(Func<int> callback) => Task.FromResult(callback());
}

public sealed class NoUsableConstructor
{
    private NoUsableConstructor(int a) => A = a;

    public NoUsableConstructor(int a, int b) : this(a + b) { }

    public NoUsableConstructor(string s) : this(s.Length) { }

    public int A { get; }
}

public interface INoCtorGrain : IGrainWithStringKey
{
    Task<NoUsableConstructor> Make();
}

public sealed class NoCtorGrain : Grain, INoCtorGrain
{
    public Task<NoUsableConstructor> Make() => Task.FromResult(new NoUsableConstructor(1, 2));
}

// ---- statistics -----------------------------------------------------------------------------------------------

public interface IPingGrain : IGrainWithIntegerKey
{
    ValueTask<int> Ping(int value);

    Task Fail(string message);
}

public sealed class PingGrain : Grain, IPingGrain
{
    public ValueTask<int> Ping(int value) => ValueTask.FromResult(value + 1);

    public Task Fail(string message) => throw new InvalidOperationException(message);
}

public interface IPersistedCounterGrain : IGrainWithStringKey
{
    Task<int> Increment();

    Task<int> ValueSeenAtActivation();

    Task Deactivate();
}

public sealed class PersistedCounterGrain([PersistentState("counter", "memory")] IPersistentState<Counter> state) : Grain, IPersistedCounterGrain
{
    private int _seen = -1;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _seen = state.State.Value;
        return Task.CompletedTask;
    }

    public async Task<int> Increment()
    {
        state.State.Value++;
        await state.WriteStateAsync();
        return state.State.Value;
    }

    public Task<int> ValueSeenAtActivation() => Task.FromResult(_seen);

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}

// ---- interface shapes the generator must handle -----------------------------------------------------------------

public interface IGreeterBaseGrain : IGrainWithStringKey
{
    Task<string> Hello();
}

public interface IGreeterGrain : IGreeterBaseGrain
{
    Task<string> Bye(string name);

    Task<string> Bye(int times, string? @class = null);

    ValueTask Remember(string Invoker, int grain, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<string>?> Remembered();
}

public sealed class GreeterGrain : Grain, IGreeterGrain
{
    private readonly List<string> _remembered = [];

    public Task<string> Hello() => Task.FromResult("hello " + GetPrimaryKeyString());

    public Task<string> Bye(string name) => Task.FromResult("bye " + name);

    public Task<string> Bye(int times, string? @class = null) => Task.FromResult(string.Concat(Enumerable.Repeat("bye ", times)) + @class);

    public ValueTask Remember(string Invoker, int grain, CancellationToken cancellationToken = default)
    {
        _remembered.Add($"{Invoker}:{grain}");
        return ValueTask.CompletedTask;
    }

    public Task<IReadOnlyList<string>?> Remembered() => Task.FromResult<IReadOnlyList<string>?>(_remembered);
}
