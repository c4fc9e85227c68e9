using Entrupy.Grains.Invocation;
using Entrupy.Grains.Persistence;

namespace Entrupy.Grains.Runtime.Activations;

/// <summary>Lifecycle of an activation.</summary>
internal enum ActivationState
{
    /// <summary>Created; its activation turn (construct, read state, OnActivateAsync) has not finished.</summary>
    Activating,

    /// <summary>Running calls.</summary>
    Valid,

    /// <summary>Its deactivation turn is running; new calls wait and are then delivered to a new activation.</summary>
    Deactivating,

    /// <summary>Gone: callers must find (or create) another activation.</summary>
    Invalid,
}

/// <summary>
/// One activation of a grain: a small actor with its own queue. Its rule: one piece of its code runs at a time
/// (<see cref="_executing"/>), and a non-interleaving turn starts only when no other turn is in progress.
/// When idle, a call runs inline on the caller's thread (the fast path); otherwise it is queued and a thread-pool
/// work item drains the queue. Continuations of the grain's awaits come back through
/// <see cref="ActivationSynchronizationContext"/>, so interleaved turns never run in parallel either.
/// </summary>
internal sealed class Activation : IGrainContext, IThreadPoolWorkItem, ILocalRoute
{
    private static long _sequence;

    private readonly Lock _lock = new();
    private readonly Queue<ActivationWorkItem> _queue = new();
    private readonly Queue<ActivationWorkItem> _interleaving = new();
    private readonly Queue<(SendOrPostCallback Callback, object? State)> _continuations = new();
    private readonly CancellationTokenSource _deactivation = new();
    private readonly TaskCompletionSource _deactivated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<GrainTimer> _timers = [];
    private ActivationWorkItem? _system;
    private bool _systemRunning;
    private bool _executing;
    private int _activeTurns;
    private int _nestedClaims;

    [ThreadStatic]
    private static Activation? t_draining;

    [ThreadStatic]
    private static Activation? t_completing;
    private long _arrivals;
    private volatile ActivationState _state = ActivationState.Activating;
    private long _lastActiveTicks = Environment.TickCount64;
    private IStorage[] _states = [];

    public Activation(SiloRuntime runtime, GrainClassInfo classInfo, GrainId grainId, WorkerPool? pool)
    {
        Runtime = runtime;
        ClassInfo = classInfo;
        GrainId = grainId;
        Pool = pool;
        Sequence = Interlocked.Increment(ref _sequence);
        SyncContext = new ActivationSynchronizationContext(this);
        RootContext = new CallContext(this, null);
        RootExecutionContext = CallContext.CreateIsolated(RootContext);
        _system = new LifecycleItem(this, activate: true, DeactivationReason.ActivationFailed);
    }

    public SiloRuntime Runtime { get; }

    public GrainClassInfo ClassInfo { get; }

    public GrainId GrainId { get; }

    public WorkerPool? Pool { get; }

    public long Sequence { get; }

    public Grain? Instance { get; private set; }

    public ActivationSynchronizationContext SyncContext { get; }

    /// <summary>The context of calls that come from outside any grain.</summary>
    public CallContext RootContext { get; }

    /// <summary>The execution context of calls from outside any grain: cached, so switching to it allocates nothing.</summary>
    public ExecutionContext RootExecutionContext { get; }

    public ActivationState State => _state;

    public CancellationToken DeactivationToken => _deactivation.Token;

    public Task Deactivated => _deactivated.Task;

    /// <summary>Approximate number of queued calls (for stateless-worker balancing).</summary>
    public int QueueLength => _queue.Count + _interleaving.Count;

    IGrainFactory IGrainContext.GrainFactory => Runtime.GrainFactory;

    IServiceProvider IGrainContext.Services => Runtime.Services;

    bool ILocalRoute.IsValid => _state != ActivationState.Invalid;

    Activation ILocalRoute.Select(bool interleaves, out bool claimed)
    {
        claimed = TryEnterFast(interleaves);
        return this;
    }

    // ---- scheduling -------------------------------------------------------------------------------------------

    /// <summary>Claims the activation for a turn on the caller's thread, when nothing else is running or waiting.</summary>
    public bool TryEnterFast(bool interleaves)
    {
        lock (_lock)
        {
            if (_executing)
            {
                // The drain of this activation is completing a caller, whose continuation runs inline and calls again:
                // no grain code of this activation is mid-way on this stack, so the call may run nested in the drain
                // (otherwise a sequential caller, once queued, would stay on the queued path for good).
                if (t_completing != this || _state != ActivationState.Valid || _system is not null ||
                    _continuations.Count != 0 || _queue.Count != 0 || _interleaving.Count != 0 ||
                    (_activeTurns != 0 && !interleaves))
                    return false;
                _nestedClaims++;
                _activeTurns++;
                return true;
            }
            if (_state != ActivationState.Valid || _system is not null ||
                _continuations.Count != 0 || _queue.Count != 0 || _interleaving.Count != 0 ||
                (_activeTurns != 0 && !interleaves))
                return false;
            _executing = true;
            _activeTurns++;
            return true;
        }
    }

    /// <summary>Ends the inline part of a fast-path turn.</summary>
    public void ExitFast(bool turnCompleted)
    {
        bool schedule;
        lock (_lock)
        {
            if (turnCompleted)
            {
                _activeTurns--;
                _lastActiveTicks = Environment.TickCount64;
            }
            if (_nestedClaims != 0)
            {
                _nestedClaims--; // the drain still owns the activation and carries on
                return;
            }
            schedule = HasRunnableWorkLocked();
            if (!schedule) _executing = false;
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>Outcome of queueing a request.</summary>
    public enum EnqueueResult
    {
        Enqueued,
        Gone,
        Deadlock,
    }

    /// <summary>Queues a request; refuses it when the activation is gone or when waiting would close a call cycle.</summary>
    public EnqueueResult TryEnqueue(ActivationWorkItem item, CallContext? caller)
    {
        bool schedule;
        lock (_lock)
        {
            if (_state == ActivationState.Invalid) return EnqueueResult.Gone;
            if (!item.Interleaves && (_activeTurns != 0 || _systemRunning) && caller is not null && caller.Contains(this))
                return EnqueueResult.Deadlock;
            item.ArrivalOrder = ++_arrivals;
            (item.Interleaves ? _interleaving : _queue).Enqueue(item);
            schedule = !_executing && HasRunnableWorkLocked();
            if (schedule) _executing = true;
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return EnqueueResult.Enqueued;
    }

    public bool TryEnqueueTimerTick(TimerTick tick)
    {
        if (_state is ActivationState.Invalid or ActivationState.Deactivating) return false;
        return TryEnqueue(tick, caller: null) == EnqueueResult.Enqueued;
    }

    /// <summary>Queues a continuation of one of this activation's turns.</summary>
    public void PostContinuation(SendOrPostCallback callback, object? state)
    {
        bool schedule;
        lock (_lock)
        {
            _continuations.Enqueue((callback, state));
            schedule = !_executing;
            if (schedule) _executing = true;
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>A request or timer turn has finished (on any thread).</summary>
    public void TurnCompleted(bool keepAlive)
    {
        bool schedule;
        lock (_lock)
        {
            _activeTurns--;
            if (keepAlive) _lastActiveTicks = Environment.TickCount64;
            schedule = !_executing && HasRunnableWorkLocked();
            if (schedule) _executing = true;
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    private void SystemTurnCompleted()
    {
        bool schedule;
        lock (_lock)
        {
            _systemRunning = false;
            _lastActiveTicks = Environment.TickCount64;
            schedule = !_executing && HasRunnableWorkLocked();
            if (schedule) _executing = true;
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    private bool HasRunnableWorkLocked()
    {
        if (_continuations.Count != 0) return true;
        if (_systemRunning) return false;
        if (_system is not null) return _activeTurns == 0;
        if (_state != ActivationState.Valid) return false;
        return _interleaving.Count != 0 || (_queue.Count != 0 && _activeTurns == 0);
    }

    /// <summary>Drains the queue on a thread-pool thread (only one drainer at a time: <see cref="_executing"/>).</summary>
    void IThreadPoolWorkItem.Execute()
    {
        var previous = SynchronizationContext.Current;
        var previousDraining = t_draining;
        SynchronizationContext.SetSynchronizationContext(SyncContext);
        t_draining = this;
        try
        {
            for (var budget = 0; budget < 64; budget++)
            {
                ActivationWorkItem? item = null;
                (SendOrPostCallback Callback, object? State) continuation = default;
                lock (_lock)
                {
                    if (!_continuations.TryDequeue(out continuation))
                    {
                        item = TakeLocked();
                        if (item is null)
                        {
                            _executing = false;
                            return;
                        }
                    }
                }
                if (item is null) RunContinuation(continuation);
                else item.Run(this);
            }
        }
        finally
        {
            t_draining = previousDraining;
            SynchronizationContext.SetSynchronizationContext(previous);
        }
        // Budget spent: give the thread back, keep the claim, continue later.
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    private ActivationWorkItem? TakeLocked()
    {
        if (_systemRunning) return null;
        if (_system is not null)
        {
            if (_activeTurns != 0) return null;
            var system = _system;
            _system = null;
            _systemRunning = true;
            return system;
        }
        if (_state != ActivationState.Valid) return null;
        // Oldest first; an interleaving call may pass a waiting non-interleaving one, never the other way round.
        ActivationWorkItem? item = null;
        var normalReady = _activeTurns == 0 && _queue.Count != 0;
        if (_interleaving.TryPeek(out var interleaving) && (!normalReady || interleaving.ArrivalOrder < _queue.Peek().ArrivalOrder))
            item = _interleaving.Dequeue();
        else if (normalReady)
            item = _queue.Dequeue();
        if (item is not null) _activeTurns++;
        return item;
    }

    private void RunContinuation((SendOrPostCallback Callback, object? State) continuation)
    {
        try
        {
            continuation.Callback(continuation.State);
        }
        catch (Exception ex)
        {
            // Only async-void style callbacks throw here; the grain's tasks carry their own exceptions.
            Runtime.LogUnhandled(this, ex);
        }
    }

    /// <summary>
    /// Runs the synchronous part of a request on the current thread, inside this activation's context
    /// (call chain and synchronization context), and restores the caller's context afterwards.
    /// </summary>
    public ValueTask<T> StartRequest<T>(GrainInvokable<T> request, CallContext? caller)
    {
        var previousSync = SynchronizationContext.Current;
        var executionContext = ExecutionContextSwitch.To(RootExecutionContext);
        if (caller is not null) CallContext.Set(new CallContext(this, caller));
        SynchronizationContext.SetSynchronizationContext(SyncContext);
        try
        {
            return request.InvokeAsync(Instance!);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<T>(ex);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previousSync);
            executionContext.Undo();
        }
    }

    /// <summary>
    /// Runs <paramref name="complete"/> (which completes a caller) so that, when this thread is draining this activation,
    /// the caller's inline continuation may call it again nested (see <see cref="TryEnterFast"/>).
    /// </summary>
    public void CompleteCaller<TState>(Action<TState> complete, TState state)
    {
        if (t_draining != this)
        {
            complete(state);
            return;
        }
        var previous = t_completing;
        t_completing = this;
        try
        {
            complete(state);
        }
        finally
        {
            t_completing = previous;
        }
    }

    // ---- lifecycle --------------------------------------------------------------------------------------------

    /// <summary>Asks for deactivation once the turns in progress end; false if already going.</summary>
    public bool RequestDeactivation(DeactivationReason reason)
    {
        bool schedule;
        lock (_lock)
        {
            if (_state != ActivationState.Valid || _system is not null) return false;
            _system = new LifecycleItem(this, activate: false, reason);
            schedule = !_executing && HasRunnableWorkLocked();
            if (schedule) _executing = true;
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return true;
    }

    /// <summary>Starts deactivation if idle for at least its collection age.</summary>
    public void CollectIfIdle(long nowTicks)
    {
        if (_state != ActivationState.Valid) return;
        lock (_lock)
        {
            if (_executing || _activeTurns != 0 || _queue.Count != 0 || _interleaving.Count != 0 || _system is not null) return;
            if (nowTicks - _lastActiveTicks < (long)ClassInfo.IdleTimeout.TotalMilliseconds) return;
        }
        RequestDeactivation(DeactivationReason.IdleCollection);
    }

    private async Task ActivateAsync()
    {
        using var timeout = new CancellationTokenSource(Runtime.Options.ActivationTimeout);
        try
        {
            var (grain, states) = ClassInfo.Construct(Runtime.Services, GrainId);
            grain.Context = this;
            Instance = grain;
            _states = states;
            foreach (var state in _states)
            {
                if (state is Persistence.IStateWriteFailureSource source)
                    source.WriteFailed = () => RequestDeactivation(DeactivationReason.StateWriteFailed);
            }
            ClassInfo.Counters.ActivationCreated();
            foreach (var state in _states) await state.ReadStateAsync(timeout.Token);
            await grain.OnActivateAsync(timeout.Token);
            lock (_lock) _state = ActivationState.Valid;
        }
        catch (Exception ex)
        {
            Runtime.LogActivationFailure(this, ex);
            if (Instance is not null) ClassInfo.Counters.ActivationDestroyed();
            Finish(ex);
        }
        finally
        {
            SystemTurnCompleted();
        }
    }

    private async Task DeactivateAsync(DeactivationReason reason)
    {
        lock (_lock) _state = ActivationState.Deactivating;
        StopTimers();
        _deactivation.Cancel();
        try
        {
            using var timeout = new CancellationTokenSource(Runtime.Options.ActivationTimeout);
            await Instance!.OnDeactivateAsync(reason, timeout.Token);
        }
        catch (Exception ex)
        {
            Runtime.LogDeactivationFailure(this, ex);
        }
        finally
        {
            ClassInfo.Counters.ActivationDestroyed();
            Finish(null);
            SystemTurnCompleted();
        }
    }

    /// <summary>Leaves the catalog, then hands queued work on: failed with <paramref name="error"/>, or to a new activation.</summary>
    private void Finish(Exception? error)
    {
        Runtime.Catalog.Remove(this);
        List<ActivationWorkItem> leftovers;
        lock (_lock)
        {
            _state = ActivationState.Invalid;
            leftovers = [.. _interleaving, .. _queue];
            _interleaving.Clear();
            _queue.Clear();
        }
        StopTimers();
        _deactivated.TrySetResult();
        foreach (var item in leftovers) item.Abandon(error);
    }

    private void StopTimers()
    {
        GrainTimer[] timers;
        lock (_timers)
        {
            timers = [.. _timers];
            _timers.Clear();
        }
        foreach (var timer in timers) timer.Dispose();
    }

    public void RemoveTimer(GrainTimer timer)
    {
        lock (_timers) _timers.Remove(timer);
    }

    // ---- IGrainContext ----------------------------------------------------------------------------------------

    void IGrainContext.DeactivateOnIdle() => RequestDeactivation(DeactivationReason.ApplicationRequested);

    IGrainTimer IGrainContext.RegisterTimer(Func<object?, CancellationToken, Task> callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (_state is ActivationState.Deactivating or ActivationState.Invalid)
            throw new InvalidOperationException($"Grain {GrainId} is deactivating: it cannot register timers.");
        var timer = new GrainTimer(this, callback, state, dueTime, period);
        lock (_timers) _timers.Add(timer);
        return timer;
    }

    public override string ToString() => $"{GrainId}#{Sequence}";

    /// <summary>The activation or deactivation turn.</summary>
    private sealed class LifecycleItem(Activation activation, bool activate, DeactivationReason reason) : ActivationWorkItem
    {
        public override bool Interleaves => false;

        public override void Run(Activation a)
        {
            var context = ExecutionContextSwitch.To(activation.RootExecutionContext);
            try
            {
                _ = activate ? activation.ActivateAsync() : activation.DeactivateAsync(reason); // they report their own end
            }
            finally
            {
                context.Undo();
            }
        }

        public override void Abandon(Exception? error)
        {
        }
    }
}
