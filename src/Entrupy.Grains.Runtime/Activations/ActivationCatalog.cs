using System.Collections.Concurrent;
using Entrupy.Grains.Runtime.Cluster;

namespace Entrupy.Grains.Runtime.Activations;

/// <summary>Where a local call goes: one activation, or a pool of stateless-worker activations.</summary>
internal interface ILocalRoute
{
    bool IsValid { get; }

    /// <summary>Picks an activation; <paramref name="claimed"/> is true when it was claimed for an inline turn.</summary>
    Activation Select(bool interleaves, out bool claimed);
}

/// <summary>The activations of this silo, by grain id.</summary>
internal sealed class ActivationCatalog(SiloRuntime runtime)
{
    private readonly ConcurrentDictionary<GrainId, Activation> _activations = new();
    private readonly ConcurrentDictionary<GrainId, WorkerPool> _pools = new();

    public Activation GetOrCreate(GrainId grainId, GrainClassInfo classInfo)
    {
        if (_activations.TryGetValue(grainId, out var existing)) return existing;
        var created = new Activation(runtime, classInfo, grainId, pool: null);
        var winner = _activations.GetOrAdd(grainId, created);
        if (ReferenceEquals(winner, created)) runtime.Directory.Register(grainId, runtime.LocalSilo.Address);
        return winner;
    }

    public WorkerPool GetOrCreatePool(GrainId grainId, GrainClassInfo classInfo)
        => _pools.TryGetValue(grainId, out var pool) ? pool : _pools.GetOrAdd(grainId, id => new WorkerPool(runtime, classInfo, id));

    public void Remove(Activation activation)
    {
        if (activation.Pool is { } pool)
        {
            pool.Remove(activation);
            return;
        }
        runtime.Directory.Unregister(activation.GrainId, runtime.LocalSilo.Address);
        _activations.TryRemove(new KeyValuePair<GrainId, Activation>(activation.GrainId, activation));
    }

    public IEnumerable<Activation> All() => _activations.Values.Concat(_pools.Values.SelectMany(p => p.Workers));

    public void CollectIdle()
    {
        var now = Environment.TickCount64;
        foreach (var activation in All()) activation.CollectIfIdle(now);
    }
}

/// <summary>
/// The local activations of one stateless-worker grain id: a call takes an idle worker inline, else a new worker
/// is added while under the maximum, else the call queues on the least-busy worker.
/// </summary>
internal sealed class WorkerPool(SiloRuntime runtime, GrainClassInfo classInfo, GrainId grainId) : ILocalRoute
{
    private readonly Lock _lock = new();
    private Activation[] _workers = [];
    private int _next;

    public bool IsValid => true;

    public IReadOnlyList<Activation> Workers => Volatile.Read(ref _workers);

    public Activation Select(bool interleaves, out bool claimed)
    {
        var workers = Volatile.Read(ref _workers);
        var start = workers.Length == 0 ? 0 : (int)((uint)Interlocked.Increment(ref _next) % (uint)workers.Length);
        for (var i = 0; i < workers.Length; i++)
        {
            var worker = workers[(start + i) % workers.Length];
            if (worker.TryEnterFast(interleaves))
            {
                claimed = true;
                return worker;
            }
        }
        claimed = false;
        lock (_lock)
        {
            workers = _workers;
            if (workers.Length < classInfo.MaxLocalWorkers)
            {
                var created = new Activation(runtime, classInfo, grainId, this);
                _workers = [.. workers, created];
                return created;
            }
        }
        // Least queued wins; still-activating workers count too, or every call would pile onto the first one.
        var best = workers[0];
        foreach (var worker in workers)
            if (worker.State != ActivationState.Invalid && worker.QueueLength < best.QueueLength) best = worker;
        return best;
    }

    public void Remove(Activation worker)
    {
        lock (_lock) _workers = _workers.Where(w => !ReferenceEquals(w, worker)).ToArray();
    }
}
