using Entrupy.Registry.Api;

namespace Entrupy.Registry;

/// <summary>
/// The registry's use cases over already-extracted fingerprints: it orders the grain calls (fingerprint durable in
/// the item, then the index shard), fans traces out to every shard and re-scores candidates with the 1:1 matcher.
/// The HTTP layer turns images into fingerprints (inference grains) and calls this.
/// </summary>
public interface IItemRegistry
{
    /// <summary>
    /// Registers enrolment fingerprints (one per capture spot; compare fuses them) for the item. A retry with the same
    /// <paramref name="requestId"/> returns the first result and registers nothing twice, and re-sends the vector to the
    /// index in case the first attempt stopped in between.
    /// </summary>
    /// <returns>The response without <see cref="RegistrationResponse.Captures"/> (the caller fills them in).</returns>
    Task<RegistrationResponse> RegisterAsync(ItemKey item, IReadOnlyList<ExtractedFingerprint> enrolments, RegistrationMetadata metadata, string requestId, CancellationToken cancellationToken = default);

    /// <summary>1:1: fuses the probes against the item's current registration.</summary>
    /// <exception cref="RegistryNotFoundException">The item has no current registration.</exception>
    Task<CompareResponse> CompareAsync(ItemKey item, IReadOnlyList<ExtractedFingerprint> probes, CancellationToken cancellationToken = default);

    /// <summary>1:N within the tenant: every shard in parallel, merged, top candidates re-scored.</summary>
    Task<TraceResponse> TraceAsync(string tenantId, IReadOnlyList<ExtractedFingerprint> probes, int top, CancellationToken cancellationToken = default);

    /// <summary>Removes the item's vector from the index (the item's history stays).</summary>
    Task RemoveFromIndexAsync(ItemKey item, CancellationToken cancellationToken = default);
}

/// <summary>A fingerprint as the inference grain produced it.</summary>
/// <param name="Fingerprint">Serialized fingerprint (<c>Fingerprint.ToBytes()</c>).</param>
/// <param name="GlobalVector">Its global vector, for the index.</param>
/// <param name="Quality">Capture quality figures.</param>
public sealed record ExtractedFingerprint(byte[] Fingerprint, float[] GlobalVector, CaptureQuality Quality);
