namespace Entrupy.Grains;

/// <summary>Live counters of a silo, per grain type. Cheap to read; a dashboard polls it.</summary>
public interface ISiloStatistics
{
    /// <summary>A snapshot for every grain type the silo hosts.</summary>
    IReadOnlyList<GrainTypeStatistics> GetGrainTypeStatistics();
}

/// <summary>Counters of one grain type since the silo started.</summary>
/// <param name="GrainType">The stable grain type name.</param>
/// <param name="Activations">Activations currently alive.</param>
/// <param name="Calls">Calls completed (successfully or not).</param>
/// <param name="Failures">Calls that ended in an exception (timeouts included).</param>
/// <param name="Latency">Call latency, as seen by the runtime from dispatch to response.</param>
public sealed record GrainTypeStatistics(string GrainType, long Activations, long Calls, long Failures, LatencyHistogram Latency);

/// <summary>
/// A log-scale latency histogram: each power of two of nanoseconds is split into <see cref="SubBuckets"/> linear
/// buckets, so a percentile is exact to within 1/<see cref="SubBuckets"/> of its magnitude.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Linear buckets per power of two.</summary>
    public const int SubBuckets = 4;

    /// <summary>Number of buckets: 0–3 ns one each, then powers of two 2^2 … 2^62 ns split in <see cref="SubBuckets"/>.</summary>
    public const int BucketCount = 62 * SubBuckets;

    /// <summary>Creates a snapshot from bucket counts.</summary>
    public LatencyHistogram(long[] counts)
    {
        if (counts.Length != BucketCount) throw new ArgumentException($"Expected {BucketCount} buckets.", nameof(counts));
        Counts = counts;
        foreach (var c in counts) Count += c;
    }

    /// <summary>Counts per bucket; bucket i covers [<see cref="BucketLowerBound"/>(i), <see cref="BucketLowerBound"/>(i+1)) ns.</summary>
    public IReadOnlyList<long> Counts { get; }

    /// <summary>Number of samples.</summary>
    public long Count { get; }

    /// <summary>The bucket of a latency in nanoseconds.</summary>
    public static int BucketOf(long nanoseconds)
    {
        if (nanoseconds < SubBuckets) return (int)Math.Max(nanoseconds, 0);
        var log = 63 - (int)long.LeadingZeroCount(nanoseconds);             // floor(log2), ≥ 2
        var sub = (int)(nanoseconds >> (log - 2)) & (SubBuckets - 1);  // next two bits
        return Math.Min((log - 1) * SubBuckets + sub, BucketCount - 1);
    }

    /// <summary>Smallest latency (ns) of bucket <paramref name="bucket"/>.</summary>
    public static long BucketLowerBound(int bucket)
    {
        if (bucket < SubBuckets) return bucket;
        var log = bucket / SubBuckets + 1;
        var sub = bucket % SubBuckets;
        return (1L << log) + ((long)sub << (log - 2));
    }

    /// <summary>The latency at percentile <paramref name="percentile"/> (0–100), as the upper bound of its bucket.</summary>
    public TimeSpan GetPercentile(double percentile)
    {
        if (Count == 0) return TimeSpan.Zero;
        var rank = (long)Math.Ceiling(percentile / 100.0 * Count);
        rank = Math.Clamp(rank, 1, Count);
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            seen += Counts[i];
            if (seen >= rank)
            {
                var upperNs = i + 1 < BucketCount ? BucketLowerBound(i + 1) : BucketLowerBound(i);
                return TimeSpan.FromTicks(Math.Max(1, upperNs / 100));
            }
        }
        return TimeSpan.Zero;
    }
}
