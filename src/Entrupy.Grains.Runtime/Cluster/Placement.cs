using System.Collections.Concurrent;
using Entrupy.Grains.Invocation;

namespace Entrupy.Grains.Runtime.Cluster;

/// <summary>A silo's address in the cluster.</summary>
/// <param name="Endpoint">Where the silo listens (for the single local silo, "local").</param>
/// <param name="Generation">Distinguishes restarts of a silo on the same endpoint.</param>
public sealed record SiloAddress(string Endpoint, long Generation)
{
    /// <inheritdoc />
    public override string ToString() => $"{Endpoint}@{Generation}";
}

/// <summary>This silo's own address (registered in DI by the silo).</summary>
/// <param name="Address">The address.</param>
public sealed record LocalSiloDetails(SiloAddress Address);

/// <summary>Decides which silo hosts a new activation. Stateless workers are always placed locally.</summary>
public interface IPlacementDirector
{
    /// <summary>Picks the silo for an activation of <paramref name="grainId"/> that exists nowhere yet.</summary>
    SiloAddress PlaceActivation(GrainId grainId);
}

/// <summary>Maps each grain id to the silo hosting its single activation. One entry per live activation.</summary>
/// <remarks>A distributed implementation caches lookups; the runtime calls it only when a reference has no cached route.</remarks>
public interface IGrainDirectory
{
    /// <summary>The silo currently hosting <paramref name="grainId"/>, or null.</summary>
    SiloAddress? Lookup(GrainId grainId);

    /// <summary>Registers <paramref name="silo"/> unless another silo is registered already; returns the winner.</summary>
    SiloAddress Register(GrainId grainId, SiloAddress silo);

    /// <summary>Removes the entry if it still points to <paramref name="silo"/>.</summary>
    void Unregister(GrainId grainId, SiloAddress silo);
}

/// <summary>
/// Carries a call to another silo and its response back. The message is the generated invokable (the call as data,
/// which is what <see cref="SiloOptions.RoundTripCallsThroughSerializer"/> proves serializable) plus the caller's chain
/// of grain ids, used on the receiving side for deadlock detection.
/// </summary>
public interface IMessageTransport
{
    /// <summary>Sends a request to <paramref name="destination"/> and returns its response.</summary>
    ValueTask<TResult> SendRequestAsync<TResult>(SiloAddress destination, GrainId target, GrainInvokable<TResult> request,
        IReadOnlyList<GrainId> callChain, TimeSpan responseTimeout);
}

/// <summary>Single-silo placement: everything here.</summary>
public sealed class LocalPlacementDirector(LocalSiloDetails local) : IPlacementDirector
{
    /// <inheritdoc />
    public SiloAddress PlaceActivation(GrainId grainId) => local.Address;
}

/// <summary>Single-silo directory: an in-memory map.</summary>
public sealed class LocalGrainDirectory : IGrainDirectory
{
    private readonly ConcurrentDictionary<GrainId, SiloAddress> _entries = new();

    /// <inheritdoc />
    public SiloAddress? Lookup(GrainId grainId) => _entries.TryGetValue(grainId, out var silo) ? silo : null;

    /// <inheritdoc />
    public SiloAddress Register(GrainId grainId, SiloAddress silo) => _entries.GetOrAdd(grainId, silo);

    /// <inheritdoc />
    public void Unregister(GrainId grainId, SiloAddress silo) => _entries.TryRemove(new KeyValuePair<GrainId, SiloAddress>(grainId, silo));
}

/// <summary>Single-silo transport: there is no other silo to reach.</summary>
public sealed class NoRemoteSilosTransport : IMessageTransport
{
    /// <inheritdoc />
    public ValueTask<TResult> SendRequestAsync<TResult>(SiloAddress destination, GrainId target, GrainInvokable<TResult> request,
        IReadOnlyList<GrainId> callChain, TimeSpan responseTimeout)
        => ValueTask.FromException<TResult>(new InvalidOperationException(
            $"Grain {target} is placed on silo {destination}, but this silo has no transport to other silos (single-silo deployment)."));
}
