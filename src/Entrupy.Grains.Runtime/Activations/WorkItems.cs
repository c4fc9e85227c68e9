namespace Entrupy.Grains.Runtime.Activations;

/// <summary>Something an activation runs as a turn: a request, a timer tick, its activation or deactivation.</summary>
internal abstract class ActivationWorkItem
{
    /// <summary>Arrival order within the activation: keeps FIFO order between its two queues.</summary>
    public long ArrivalOrder;

    /// <summary>May start while other turns of the activation are in progress.</summary>
    public abstract bool Interleaves { get; }

    /// <summary>Starts the turn. The activation has already counted it; the item reports its end to the activation.</summary>
    public abstract void Run(Activation activation);

    /// <summary>The item never ran: with an error, fail it; without, deliver it again (the activation went away).</summary>
    public abstract void Abandon(Exception? error);
}

/// <summary>A timer tick: runs the timer callback as a non-interleaving turn.</summary>
internal sealed class TimerTick(GrainTimer timer) : ActivationWorkItem
{
    public override bool Interleaves => false;

    public override void Run(Activation activation) => timer.RunTick(activation);

    public override void Abandon(Exception? error) => timer.TickAbandoned();
}

/// <summary>A grain timer: a <see cref="Timer"/> whose ticks are queued to the activation as turns.</summary>
internal sealed class GrainTimer : IGrainTimer
{
    private readonly Activation _activation;
    private readonly Func<object?, CancellationToken, Task> _callback;
    private readonly object? _state;
    private readonly TimeSpan _period;
    private readonly Timer _timer;
    private volatile bool _disposed;

    public GrainTimer(Activation activation, Func<object?, CancellationToken, Task> callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        _activation = activation;
        _callback = callback;
        _state = state;
        _period = period;
        _timer = new Timer(static s => ((GrainTimer)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(dueTime, Timeout.InfiniteTimeSpan);
    }

    private void Fire()
    {
        if (_disposed) return;
        if (!_activation.TryEnqueueTimerTick(new TimerTick(this))) Dispose();
    }

    public void RunTick(Activation activation)
    {
        if (_disposed)
        {
            activation.TurnCompleted(keepAlive: false);
            return;
        }
        Task task;
        var context = ExecutionContextSwitch.To(activation.RootExecutionContext);
        try
        {
            task = _callback(_state, activation.DeactivationToken);
        }
        catch (Exception ex)
        {
            task = Task.FromException(ex);
        }
        finally
        {
            context.Undo();
        }
        if (task.IsCompleted) TickDone(task);
        else task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(() => TickDone(task));
    }

    private void TickDone(Task task)
    {
        if (task.IsFaulted) _activation.Runtime.LogTimerFailure(_activation, task.Exception!.GetBaseException());
        _activation.TurnCompleted(keepAlive: false);
        Reschedule();
    }

    public void TickAbandoned() => Dispose();

    private void Reschedule()
    {
        if (_disposed || _period == Timeout.InfiniteTimeSpan) return;
        try
        {
            _timer.Change(_period, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // disposed between the check and the change: nothing to reschedule
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _timer.Dispose();
        _activation.RemoveTimer(this);
    }
}
