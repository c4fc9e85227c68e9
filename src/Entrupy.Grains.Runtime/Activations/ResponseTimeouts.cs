namespace Entrupy.Grains.Runtime.Activations;

/// <summary>
/// Expires calls that wait too long. One coarse sweep timer for all pending calls instead of a timer per call:
/// registering is a list append, and calls that complete inline are never registered at all.
/// </summary>
internal sealed class ResponseTimeouts : IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(20);

    private readonly Lock _lock = new();
    private readonly Timer _timer;
    private List<Entry> _entries = [];
    private List<Entry> _spare = [];

    public ResponseTimeouts() => _timer = new Timer(static s => ((ResponseTimeouts)s!).Sweep(), this, SweepInterval, SweepInterval);

    public void Register(ITimeoutTarget target, long token, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)Math.Ceiling(timeout.TotalMilliseconds);
        lock (_lock) _entries.Add(new Entry(target, token, deadline));
    }

    private void Sweep()
    {
        List<Entry> current;
        lock (_lock)
        {
            if (_entries.Count == 0) return;
            current = _entries;
            _entries = _spare;
        }
        var now = Environment.TickCount64;
        var keep = new List<Entry>();
        foreach (var entry in current)
        {
            if (entry.Target.IsDone(entry.Token)) continue;
            if (now >= entry.Deadline) entry.Target.TryTimeout(entry.Token);
            else keep.Add(entry);
        }
        current.Clear();
        lock (_lock)
        {
            _entries.AddRange(keep);
            _spare = current;
        }
    }

    public void Dispose() => _timer.Dispose();

    private readonly record struct Entry(ITimeoutTarget Target, long Token, long Deadline);
}
