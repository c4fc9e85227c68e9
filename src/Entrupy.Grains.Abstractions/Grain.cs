namespace Entrupy.Grains;

/// <summary>
/// Base class of grain implementations, shaped after Orleans' <c>Grain</c>. The runtime constructs a grain through
/// dependency injection when the first call arrives, runs <see cref="OnActivateAsync"/>, then delivers calls one turn
/// at a time; after an idle period (or <see cref="DeactivateOnIdle"/>) it runs <see cref="OnDeactivateAsync"/> and drops it.
/// </summary>
public abstract class Grain
{
    private IGrainContext? _context;

    /// <summary>Set by the runtime right after construction.</summary>
    internal IGrainContext Context
    {
        get => _context ?? throw new InvalidOperationException(
            "The grain context is not available yet: do not call grain APIs from the constructor; use OnActivateAsync.");
        set => _context = value;
    }

    /// <summary>This grain's id.</summary>
    public GrainId GrainId => Context.GrainId;

    /// <summary>Gets references to other grains (or to this one).</summary>
    public IGrainFactory GrainFactory => Context.GrainFactory;

    /// <summary>The silo's services.</summary>
    public IServiceProvider ServiceProvider => Context.Services;

    /// <summary>The key of a string-keyed grain.</summary>
    public string GetPrimaryKeyString() => Context.GrainId.Key;

    /// <summary>The key of an integer-keyed grain.</summary>
    public long GetPrimaryKeyLong() => Context.GrainId.GetIntegerKey();

    /// <summary>Called after construction (and after persistent state is read), before the first call is delivered.</summary>
    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Called before the activation is dropped; timers are already stopped.</summary>
    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Deactivates this activation once the current turn ends; the next call creates a new one.</summary>
    protected void DeactivateOnIdle() => Context.DeactivateOnIdle();

    /// <summary>
    /// Registers a timer whose callback runs as a turn of this activation (it does not interleave with calls).
    /// The next tick is scheduled <paramref name="period"/> after the callback completes. Timers stop at deactivation
    /// and do not keep the activation alive. Dispose the result to stop it earlier.
    /// </summary>
    /// <param name="callback">Runs as a turn; the token is cancelled when the activation deactivates.</param>
    /// <param name="dueTime">Delay before the first tick.</param>
    /// <param name="period">Delay between the end of a tick and the next; <see cref="Timeout.InfiniteTimeSpan"/> ticks once.</param>
    protected IGrainTimer RegisterGrainTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return Context.RegisterTimer(static (state, ct) => ((Func<CancellationToken, Task>)state!)(ct), callback, dueTime, period);
    }

    /// <summary>Registers a timer with a state argument; see <see cref="RegisterGrainTimer(Func{CancellationToken, Task}, TimeSpan, TimeSpan)"/>.</summary>
    protected IGrainTimer RegisterGrainTimer<TState>(Func<TState, CancellationToken, Task> callback, TState state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return Context.RegisterTimer((_, ct) => callback(state, ct), null, dueTime, period);
    }

    /// <summary>A reference to this grain through one of its interfaces, to hand to other grains.</summary>
    public TGrainInterface AsReference<TGrainInterface>() where TGrainInterface : IGrain
        => (TGrainInterface)Context.GrainFactory.GetGrain(typeof(TGrainInterface), Context.GrainId);
}

/// <summary>A grain timer. Dispose it to stop it.</summary>
public interface IGrainTimer : IDisposable
{
}

/// <summary>Why an activation is deactivated.</summary>
public enum DeactivationReason
{
    /// <summary>Idle for longer than its collection age.</summary>
    IdleCollection,

    /// <summary>The grain called <see cref="Grain.DeactivateOnIdle"/>.</summary>
    ApplicationRequested,

    /// <summary>The silo is stopping.</summary>
    ShuttingDown,

    /// <summary>Activation failed (OnActivateAsync or reading state threw).</summary>
    ActivationFailed,

    /// <summary>
    /// A write or clear of its persistent state failed, so its memory may hold changes storage does not have (or a stale
    /// ETag); the next call gets a fresh activation that reads what storage holds.
    /// </summary>
    StateWriteFailed,
}

/// <summary>What a grain instance sees of its activation; implemented by the runtime.</summary>
internal interface IGrainContext
{
    GrainId GrainId { get; }

    IGrainFactory GrainFactory { get; }

    IServiceProvider Services { get; }

    void DeactivateOnIdle();

    IGrainTimer RegisterTimer(Func<object?, CancellationToken, Task> callback, object? state, TimeSpan dueTime, TimeSpan period);
}
