using System.Threading.Tasks.Sources;
using Entrupy.Grains.Invocation;

namespace Entrupy.Grains.Runtime.Activations;

/// <summary>Something the response-timeout sweeper can expire.</summary>
internal interface ITimeoutTarget
{
    /// <summary>Fails the call with a timeout, if <paramref name="token"/> still names its pending incarnation.</summary>
    void TryTimeout(long token);

    /// <summary>Whether the incarnation <paramref name="token"/> has completed (or the object moved on).</summary>
    bool IsDone(long token);
}

/// <summary>
/// A call that did not complete inline: it is both the queued message and the caller's awaitable (a pooled
/// <see cref="IValueTaskSource{TResult}"/>). Two owners hold it — the caller until it reads the result, the
/// activation side until it has finished with it — and it returns to the pool when both let go.
/// </summary>
internal sealed class RequestMessage<T> : ActivationWorkItem, IValueTaskSource<T>, IValueTaskSource, ITimeoutTarget
{
    private static readonly RequestMessage<T>?[] Pool = new RequestMessage<T>?[Math.Max(16, Environment.ProcessorCount * 8)];

    private readonly Action _onGrainCompleted;
    private ManualResetValueTaskSourceCore<T> _core;
    private long _token;   // (version << 1) | completed
    private int _owners;
    private bool _interleaves;
    private ValueTask<T> _running;
    private Activation? _runningOn;
    private CancellationTokenRegistration _cancellation;

    private RequestMessage()
    {
        _onGrainCompleted = OnGrainCompleted;
        _core.RunContinuationsAsynchronously = false;
    }

    public GrainCallDispatcher Dispatcher { get; private set; } = null!;

    public GrainReference Target { get; private set; } = null!;

    public GrainInvokable<T> Request { get; private set; } = null!;

    public CallContext? Caller { get; private set; }

    public GrainClassInfo ClassInfo { get; private set; } = null!;

    public long StartTimestamp { get; private set; }

    public override bool Interleaves => _interleaves;

    public long Token => Volatile.Read(ref _token);

    public static RequestMessage<T> Rent(GrainCallDispatcher dispatcher, GrainReference target, GrainInvokable<T> request,
        CallContext? caller, GrainClassInfo classInfo, bool interleaves, long startTimestamp)
    {
        var start = Environment.CurrentManagedThreadId;
        RequestMessage<T>? message = null;
        for (var i = 0; i < 4 && message is null; i++) message = Interlocked.Exchange(ref Pool[(start + i) % Pool.Length], null);
        message ??= new RequestMessage<T>();
        message._owners = 2;
        message._token = (long)message._core.Version << 1;
        message.Dispatcher = dispatcher;
        message.Target = target;
        message.Request = request;
        message.Caller = caller;
        message.ClassInfo = classInfo;
        message._interleaves = interleaves;
        message.StartTimestamp = startTimestamp;
        var ct = request.CancellationToken;
        if (ct.CanBeCanceled)
            message._cancellation = ct.UnsafeRegister(static (s, token) => ((RequestMessage<T>)s!).TryCancel(token), message);
        return message;
    }

    public ValueTask<T> AsValueTask() => new(this, _core.Version);

    public ValueTask AsVoidValueTask() => new(this, _core.Version);

    /// <summary>Starts the turn on an activation the dispatcher queued it to.</summary>
    public override void Run(Activation activation)
    {
        if (IsCompletedNow())
        {
            // Expired or cancelled while queued: the caller has its answer; do not run it.
            activation.TurnCompleted(keepAlive: true);
            Release();
            return;
        }
        if (Request.CancellationToken.IsCancellationRequested)
        {
            activation.TurnCompleted(keepAlive: true);
            TryComplete(default!, new OperationCanceledException(Request.CancellationToken));
            Release();
            return;
        }
        Attach(activation, activation.StartRequest(Request, Caller));
    }

    /// <summary>Tracks the grain's pending result; the turn ends when it completes.</summary>
    public void Attach(Activation activation, ValueTask<T> running)
    {
        _runningOn = activation;
        _running = running;
        if (running.IsCompleted) OnGrainCompleted();
        else running.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onGrainCompleted);
    }

    private void OnGrainCompleted()
    {
        var activation = _runningOn!;
        var running = _running;
        _running = default;
        _runningOn = null;
        T result = default!;
        Exception? error = null;
        try
        {
            result = running.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            error = ex;
        }
        activation.TurnCompleted(keepAlive: true);
        if (error is null && !IsCompletedNow()) Dispatcher.TryRoundTripResult(ref result, Request.Method, out error);
        activation.CompleteCaller(static s => s.Message.TryComplete(s.Result, s.Error), (Message: this, Result: result, Error: error));
        Release();
    }

    public override void Abandon(Exception? error)
    {
        if (error is not null)
        {
            TryComplete(default!, error);
            Release();
        }
        else
        {
            Dispatcher.Redeliver(this); // the activation went away before running it; ownership moves along
        }
    }

    private bool IsCompletedNow() => (Volatile.Read(ref _token) & 1) != 0;

    /// <summary>Completes the caller's awaitable once; later attempts (timeout vs. result) are ignored.</summary>
    public bool TryComplete(T result, Exception? error) => TryComplete(Volatile.Read(ref _token) & ~1L, result, error);

    private bool TryComplete(long expectedToken, T result, Exception? error)
    {
        if (Interlocked.CompareExchange(ref _token, expectedToken | 1, expectedToken) != expectedToken) return false;
        _cancellation.Dispose();
        _cancellation = default;
        ClassInfo.Counters.RecordCall(StartTimestamp, failed: error is not null);
        // The caller's continuation may run inline here: never inside the activation's synchronization context.
        var previous = SynchronizationContext.Current;
        if (previous is not null) SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            if (error is null) _core.SetResult(result);
            else _core.SetException(error);
        }
        finally
        {
            if (previous is not null) SynchronizationContext.SetSynchronizationContext(previous);
        }
        return true;
    }

    private void TryCancel(CancellationToken token)
    {
        // Runs on the cancelling thread; the version check inside TryComplete ignores a recycled message.
        var current = Volatile.Read(ref _token);
        if ((current & 1) == 0) TryComplete(current, default!, new OperationCanceledException(token));
    }

    public void TryTimeout(long token)
    {
        if ((Volatile.Read(ref _token)) != token) return;
        var timeout = Dispatcher.ResponseTimeoutOf(Request.Method);
        TryComplete(token, default!, new GrainCallTimeoutException(Target.GrainId, Request.Method.DisplayName, timeout));
    }

    public bool IsDone(long token) => Volatile.Read(ref _token) != token;

    /// <summary>Returns a message that was never handed to anyone.</summary>
    public void ReturnUnused()
    {
        _cancellation.Dispose();
        _cancellation = default;
        _owners = 1;
        _token |= 1;
        Release();
    }

    /// <summary>Drops one owner; the last one returns the message to the pool.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _owners) != 0) return;
        _core.Reset();
        Target = null!;
        Request = null!;
        Caller = null;
        ClassInfo = null!;
        Dispatcher = null!;
        var start = Environment.CurrentManagedThreadId;
        for (var i = 0; i < 4; i++)
            if (Interlocked.CompareExchange(ref Pool[(start + i) % Pool.Length], this, null) is null) return;
    }

    T IValueTaskSource<T>.GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Release();
        }
    }

    void IValueTaskSource.GetResult(short token)
    {
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            Release();
        }
    }

    ValueTaskSourceStatus IValueTaskSource<T>.GetStatus(short token) => _core.GetStatus(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<T>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
