using Entrupy.Native.Faiss;

namespace Entrupy.Fingerprinting;

/// <summary>One candidate of a 1:N trace: the item, its fused 1:1 score and the decision.</summary>
/// <param name="ItemId">The registered item.</param>
/// <param name="Score">The 1:1 score against the item's best capture.</param>
public readonly record struct TraceCandidate(string ItemId, MatchScore Score);

/// <summary>
/// The 1:N trace path over a set of registered items: the global vectors in a FAISS inner-product index give a
/// shortlist, then every shortlisted item is re-scored with the 1:1 matcher, whose score decides. Thread-safe for
/// concurrent traces; registration is exclusive.
/// </summary>
public sealed class FingerprintGallery : IDisposable
{
    private readonly FingerprintMatcher matcher;
    private readonly FaissIndex index;
    private readonly List<string> itemOfCapture = [];
    private readonly Dictionary<string, List<Fingerprint>> captures = new(StringComparer.Ordinal);
    private readonly ReaderWriterLockSlim gate = new();

    /// <summary>Creates an empty gallery for fingerprints of <paramref name="model"/>.</summary>
    public FingerprintGallery(FingerprintModel model)
    {
        matcher = new FingerprintMatcher(model);
        index = FaissIndex.Create(model.GlobalVectorLength, "Flat", FaissMetric.InnerProduct);
    }

    /// <summary>Registered items.</summary>
    public int ItemCount
    {
        get
        {
            gate.EnterReadLock();
            try { return captures.Count; } finally { gate.ExitReadLock(); }
        }
    }

    /// <summary>Adds one enrolment capture of an item (an item may have several; comparisons fuse them).</summary>
    public void Register(string itemId, Fingerprint enrolment)
    {
        ArgumentException.ThrowIfNullOrEmpty(itemId);
        ArgumentNullException.ThrowIfNull(enrolment);
        gate.EnterWriteLock();
        try
        {
            index.Add(enrolment.GlobalVector, [itemOfCapture.Count]);
            itemOfCapture.Add(itemId);
            if (!captures.TryGetValue(itemId, out var list)) captures[itemId] = list = [];
            list.Add(enrolment);
        }
        finally { gate.ExitWriteLock(); }
    }

    /// <summary>1:1 compare of a probe with one registered item; null when the item is not registered.</summary>
    public MatchScore? Compare(Fingerprint probe, string itemId)
    {
        gate.EnterReadLock();
        try { return captures.TryGetValue(itemId, out var list) ? matcher.Compare(probe, list) : null; }
        finally { gate.ExitReadLock(); }
    }

    /// <summary>
    /// 1:N trace: shortlists up to <paramref name="shortlist"/> items by global vector, re-scores each with the
    /// 1:1 matcher and returns the best <paramref name="top"/>, highest score first (ties: nearer in FAISS first).
    /// </summary>
    public IReadOnlyList<TraceCandidate> Trace(Fingerprint probe, int top = 5, int shortlist = 100)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(shortlist, 1);
        gate.EnterReadLock();
        try
        {
            if (itemOfCapture.Count == 0) return [];
            // Several captures per item: ask for more neighbours than items so the shortlist holds enough items.
            var k = (int)Math.Min(itemOfCapture.Count, shortlist * 2L);
            var hits = index.Search(probe.GlobalVector, k);
            var items = new List<string>(shortlist);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var id in hits.Ids)
            {
                if (id < 0) break;
                var item = itemOfCapture[(int)id];
                if (seen.Add(item)) items.Add(item);
                if (items.Count == shortlist) break;
            }
            var scored = items.Select((item, rank) => (Candidate: new TraceCandidate(item, matcher.Compare(probe, captures[item])), Rank: rank))
                .OrderByDescending(c => c.Candidate.Score.Score).ThenBy(c => c.Rank)
                .Take(top).Select(c => c.Candidate).ToList();
            return scored;
        }
        finally { gate.ExitReadLock(); }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        index.Dispose();
        gate.Dispose();
    }
}
