namespace Entrupy.Grains.Runtime.Activations;

/// <summary>
/// The call a piece of grain code is running in: which activation, and (through <see cref="Caller"/>) the chain of
/// activations waiting on it. Flows with the ExecutionContext, so a grain's outgoing calls know their chain.
/// </summary>
internal sealed class CallContext(Activation activation, CallContext? caller)
{
    private static readonly AsyncLocal<CallContext?> Slot = new();

    public Activation Activation { get; } = activation;

    public CallContext? Caller { get; } = caller;

    public static CallContext? Current => Slot.Value;

    /// <summary>An execution context with no async-locals at all (captured on a thread that never had any).</summary>
    public static readonly ExecutionContext Empty = CaptureEmpty();

    /// <summary>
    /// An execution context holding only <paramref name="context"/>. Grain code runs on contexts like this one, never on
    /// the caller's: ambient async-locals of a caller could not cross to another silo either, so they do not cross here.
    /// </summary>
    public static ExecutionContext CreateIsolated(CallContext context)
    {
        var saved = ExecutionContext.Capture();
        ExecutionContext.Restore(Empty);
        Set(context);
        var isolated = ExecutionContext.Capture()!;
        ExecutionContext.Restore(saved ?? Empty);
        return isolated;
    }

    private static ExecutionContext CaptureEmpty()
    {
        ExecutionContext? empty = null;
        using (ExecutionContext.SuppressFlow())
        {
            var thread = new Thread(() => empty = ExecutionContext.Capture()) { IsBackground = true };
            thread.Start();
            thread.Join();
        }
        return empty!;
    }

    public static void Set(CallContext? context) => Slot.Value = context;

    public bool Contains(Activation activation)
    {
        for (var c = this; c is not null; c = c.Caller)
            if (ReferenceEquals(c.Activation, activation)) return true;
        return false;
    }

    /// <summary>The grain ids from the outermost waiting activation down to this one.</summary>
    public List<GrainId> Chain()
    {
        var chain = new List<GrainId>();
        for (var c = this; c is not null; c = c.Caller) chain.Add(c.Activation.GrainId);
        chain.Reverse();
        return chain;
    }
}

/// <summary>Switches the current thread to another execution context and back, keeping a caller's suppressed flow.</summary>
internal readonly struct ExecutionContextSwitch
{
    private readonly ExecutionContext _saved;
    private readonly bool _flowWasSuppressed;

    private ExecutionContextSwitch(ExecutionContext saved, bool flowWasSuppressed)
    {
        _saved = saved;
        _flowWasSuppressed = flowWasSuppressed;
    }

    public static ExecutionContextSwitch To(ExecutionContext target)
    {
        var saved = ExecutionContext.Capture();
        var suppressed = saved is null; // Capture() hides a suppressed context; un-suppress to get hold of it
        if (suppressed)
        {
            ExecutionContext.RestoreFlow();
            saved = ExecutionContext.Capture();
        }
        ExecutionContext.Restore(target);
        return new ExecutionContextSwitch(saved!, suppressed);
    }

    public void Undo()
    {
        ExecutionContext.Restore(_saved);
        if (_flowWasSuppressed) ExecutionContext.SuppressFlow();
    }
}

/// <summary>
/// Posts the continuations of a grain's awaits back to its activation, so they run one at a time with the
/// activation's other work (Orleans' turn-based scheduling) instead of in parallel on the thread pool.
/// </summary>
internal sealed class ActivationSynchronizationContext(Activation activation) : SynchronizationContext
{
    public override void Post(SendOrPostCallback d, object? state) => activation.PostContinuation(d, state);

    public override void Send(SendOrPostCallback d, object? state)
        => throw new NotSupportedException("Synchronous Send onto a grain activation would block its turn.");

    public override SynchronizationContext CreateCopy() => this;
}
