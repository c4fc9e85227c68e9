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
    /// 1:N trace: takes items in order of global-vector similarity (FAISS), re-scores them with the 1:1 matcher
    /// <paramref name="shortlist"/> at a time, and stops once a re-scored item reaches the operating threshold or
    /// <paramref name="maxCandidates"/> items were scored. Returns the best <paramref name="top"/>, highest score
    /// first (ties: nearer in FAISS first).
    /// </summary>
    /// <remarks>
    /// The global vector alone ranks the true item first far less often than the 1:1 score does, so a fixed short
    /// shortlist would miss items; widening only when nothing matched keeps the usual cost at one shortlist.
    /// </remarks>
    public IReadOnlyList<TraceCandidate> Trace(Fingerprint probe, int top = 5, int shortlist = 100, int maxCandidates = 2000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(shortlist, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCandidates, shortlist);
        gate.EnterReadLock();
        try
        {
            if (itemOfCapture.Count == 0) return [];
            // Several captures per item: ask for more neighbours than items so enough distinct items come back.
            var k = (int)Math.Min(itemOfCapture.Count, maxCandidates * 2L);
            var hits = index.Search(probe.GlobalVector, k);
            var ranked = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var id in hits.Ids)
            {
                if (id < 0) break;
                var item = itemOfCapture[(int)id];
                if (seen.Add(item)) ranked.Add(item);
                if (ranked.Count == maxCandidates) break;
            }
            var scored = new List<(TraceCandidate Candidate, int Rank)>();
            for (var start = 0; start < ranked.Count; start += shortlist)
            {
                for (var r = start; r < Math.Min(ranked.Count, start + shortlist); r++)
                    scored.Add((new TraceCandidate(ranked[r], matcher.Compare(probe, captures[ranked[r]])), r));
                if (scored.Any(c => c.Candidate.Score.IsMatch)) break;
            }
            return scored.OrderByDescending(c => c.Candidate.Score.Score).ThenBy(c => c.Rank)
                .Take(top).Select(c => c.Candidate).ToList();
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
