namespace Entrupy.Native.Faiss;

/// <summary>
/// Per-call search settings. 0 means "the index's own setting". Each applies only where that kind of
/// index is in the factory string (HNSW for <see cref="EfSearch"/>, IVF for <see cref="Nprobe"/>) and is ignored elsewhere.
/// </summary>
public readonly record struct FaissSearchParameters
{
    private readonly int efSearch;
    private readonly int nprobe;

    /// <summary>HNSW: size of the candidate list explored per query (larger = better recall, slower).</summary>
    public int EfSearch
    {
        get => efSearch;
        init => efSearch = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(EfSearch), value, "EfSearch must be >= 0 (0 = index default).");
    }

    /// <summary>IVF: number of inverted lists visited per query (larger = better recall, slower).</summary>
    public int Nprobe
    {
        get => nprobe;
        init => nprobe = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(Nprobe), value, "Nprobe must be >= 0 (0 = index default).");
    }
}
