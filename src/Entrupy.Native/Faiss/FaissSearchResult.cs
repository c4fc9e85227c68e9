namespace Entrupy.Native.Faiss;

/// <summary>
/// The k nearest neighbours of each query, nearest first. A missing neighbour (fewer than k vectors
/// reachable) has id -1.
/// </summary>
public sealed class FaissSearchResult
{
    private readonly long[] ids;
    private readonly float[] distances;

    internal FaissSearchResult(int queryCount, int k, long[] ids, float[] distances)
    {
        QueryCount = queryCount;
        K = k;
        this.ids = ids;
        this.distances = distances;
    }

    /// <summary>Number of queries searched.</summary>
    public int QueryCount { get; }

    /// <summary>Neighbours per query.</summary>
    public int K { get; }

    /// <summary>All ids, query-major (<see cref="QueryCount"/> × <see cref="K"/>).</summary>
    public ReadOnlySpan<long> Ids => ids;

    /// <summary>All distances, query-major; squared L2 or inner product depending on the metric.</summary>
    public ReadOnlySpan<float> Distances => distances;

    /// <summary>The ids found for one query.</summary>
    public ReadOnlySpan<long> IdsOf(int query) => ids.AsSpan(Offset(query), K);

    /// <summary>The distances found for one query.</summary>
    public ReadOnlySpan<float> DistancesOf(int query) => distances.AsSpan(Offset(query), K);

    private int Offset(int query)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(query);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(query, QueryCount);
        return query * K;
    }
}
