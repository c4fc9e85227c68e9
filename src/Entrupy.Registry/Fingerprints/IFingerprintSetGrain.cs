using Orleans;
using Orleans.Concurrency;

namespace Entrupy.Registry;

/// <summary>
/// The enrolment fingerprints of one registration (one per capture), stored write-once outside the item's state so
/// the ~100 KB per capture is not rewritten by every custody event. Key: <c>{tenantId}/{customerItemId}/{setId}</c>
/// (the item registry derives <c>setId</c> from the registration's request id, so a retry lands on the same set).
/// Fingerprints travel as <see cref="Immutable{T}"/>: neither side changes them, so a call within a silo passes them
/// without copying ~40-100 KB per capture.
/// An activation keeps the deserialized fingerprints in memory, so repeated compares cost only the matching;
/// idle collection frees them.
/// </summary>
public interface IFingerprintSetGrain : IGrainWithStringKey
{
    /// <summary>
    /// Stores the serialized fingerprints (<c>Fingerprint.ToBytes()</c>) once; durable when this returns. Returns
    /// true when this call stored them, false when the set already existed (then nothing changes: the first set wins).
    /// </summary>
    /// <exception cref="RegistryValidationException">No fingerprints, too many, or an empty one.</exception>
    Task<bool> Store(Immutable<byte[][]> fingerprints);

    /// <summary>
    /// Deletes the set this registration stored when its item refused the registration (a linked item, another EPC):
    /// nothing refers to it then. A set in the earlier per-capture layout is left as it is.
    /// </summary>
    Task Discard();

    /// <summary>The set's vectors for the 1:N index (<c>IndexVectors.Of</c>): upright view first.</summary>
    /// <exception cref="RegistryNotFoundException">Nothing was stored under this key.</exception>
    Task<float[][]> GetIndexVectors();

    /// <summary>Scores each probe against every stored capture; the best pair decides.</summary>
    /// <exception cref="RegistryNotFoundException">Nothing was stored under this key.</exception>
    /// <exception cref="RegistryValidationException">A probe is not a fingerprint of the loaded model.</exception>
    /// <exception cref="RegistryConflictException">The stored fingerprints cannot be compared (another model, or damaged).</exception>
    Task<FingerprintSetMatch> Compare(Immutable<byte[][]> probes);
}

/// <summary>The best score of a compare against a fingerprint set.</summary>
/// <param name="Score">Inlier count of the best probe/capture pair.</param>
/// <param name="BestProbe">Index of that probe.</param>
/// <param name="BestCapture">Index of that capture.</param>
public sealed record FingerprintSetMatch(int Score, int BestProbe, int BestCapture);
