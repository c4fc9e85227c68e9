using System.Text;

namespace Entrupy.Native.Faiss;

/// <summary>
/// A FAISS index built from an <c>index_factory</c> description (e.g. "Flat", "HNSW32", "IVF64,Flat").
/// Every index accepts caller-chosen 64-bit ids: kinds that lack them natively are wrapped in an IDMap.
/// Thread safety: any number of concurrent <see cref="Search(ReadOnlySpan{float}, int, FaissSearchParameters)"/>
/// calls; <see cref="Train"/>, <see cref="Add"/> and <see cref="Remove"/> run exclusively (FAISS does not
/// allow, e.g., HNSW inserts concurrent with searches).
/// </summary>
public sealed unsafe class FaissIndex : IDisposable
{
    private readonly FaissIndexHandle handle;
    private readonly ReaderWriterLockSlim gate = new(LockRecursionPolicy.NoRecursion);
    private bool disposed;

    private FaissIndex(FaissIndexHandle handle)
    {
        this.handle = handle;
        FaissNative.Check(FaissNative.Info(handle, out var dimension, out _, out _, out var metric), "index info");
        Dimension = dimension;
        Metric = (FaissMetric)metric;
    }

    /// <summary>Vector dimension.</summary>
    public int Dimension { get; }

    /// <summary>The metric the index compares with.</summary>
    public FaissMetric Metric { get; }

    /// <summary>Number of vectors stored (FAISS's <c>ntotal</c>).</summary>
    public long Count => ReadInfo().Count;

    /// <summary>Whether the index is ready for <see cref="Add"/> (kinds such as IVF need <see cref="Train"/> first).</summary>
    public bool IsTrained => ReadInfo().IsTrained;

    /// <summary>Creates an empty index with <c>faiss::index_factory</c>.</summary>
    /// <param name="dimension">Vector dimension (&gt; 0).</param>
    /// <param name="description">Factory string, e.g. "Flat", "HNSW32", "IVF64,Flat", "PCA32,IVF16,SQ8".</param>
    /// <param name="metric">L2 or inner product.</param>
    /// <exception cref="FaissException">FAISS rejected the description (its message is included).</exception>
    public static FaissIndex Create(int dimension, string description, FaissMetric metric = FaissMetric.L2)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        ArgumentException.ThrowIfNullOrWhiteSpace(description);
        if (!Enum.IsDefined(metric)) throw new ArgumentOutOfRangeException(nameof(metric), metric, "Only L2 and InnerProduct are supported.");

        var utf8 = new byte[Encoding.UTF8.GetByteCount(description) + 1];
        Encoding.UTF8.GetBytes(description, utf8);
        FaissIndexHandle created;
        fixed (byte* p = utf8)
        {
            var status = FaissNative.Create(dimension, p, (int)metric, out created);
            if (status != 0) created.Dispose();
            FaissNative.Check(status, $"index_factory(d={dimension}, \"{description}\")");
        }
        return new FaissIndex(created);
    }

    /// <summary>Loads an index from bytes produced by <see cref="Serialize"/> (or any <c>faiss::write_index</c> output).</summary>
    /// <exception cref="FaissException">The bytes are not a readable FAISS index.</exception>
    public static FaissIndex Deserialize(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) throw new ArgumentException("No bytes to read an index from.", nameof(data));
        FaissIndexHandle loaded;
        fixed (byte* p = data)
        {
            var status = FaissNative.Deserialize(p, data.Length, out loaded);
            if (status != 0) loaded.Dispose();
            FaissNative.Check(status, "read_index");
        }
        return new FaissIndex(loaded);
    }

    /// <summary>Trains the index (IVF centroids, PQ codebooks...) on row-major vectors; a no-op for kinds that need none.</summary>
    public void Train(ReadOnlySpan<float> vectors)
    {
        var n = RowCount(vectors, nameof(vectors));
        if (n == 0) throw new ArgumentException("Training needs at least one vector.", nameof(vectors));
        EnterExclusive();
        try
        {
            fixed (float* x = vectors) FaissNative.Check(FaissNative.Train(handle, n, x), "train");
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    /// <summary>Adds row-major vectors under the given ids (FAISS's <c>add_with_ids</c>).</summary>
    /// <param name="vectors">Count × <see cref="Dimension"/> floats.</param>
    /// <param name="ids">One id per vector.</param>
    public void Add(ReadOnlySpan<float> vectors, ReadOnlySpan<long> ids)
    {
        var n = RowCount(vectors, nameof(vectors));
        if (ids.Length != n)
            throw new ArgumentException($"{ids.Length} ids were given for {n} vectors of dimension {Dimension}.", nameof(ids));
        if (n == 0) return;
        EnterExclusive();
        try
        {
            fixed (float* x = vectors)
            fixed (long* i = ids)
                FaissNative.Check(FaissNative.AddWithIds(handle, n, x, i), "add_with_ids");
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    /// <summary>Removes every vector stored under one of <paramref name="ids"/>; returns how many were removed.</summary>
    /// <exception cref="FaissException">This kind of index cannot remove (e.g. HNSW).</exception>
    public long Remove(ReadOnlySpan<long> ids)
    {
        if (ids.IsEmpty) return 0;
        EnterExclusive();
        try
        {
            long removed;
            fixed (long* i = ids) FaissNative.Check(FaissNative.RemoveIds(handle, ids.Length, i, out removed), "remove_ids");
            return removed;
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    /// <summary>Finds the <paramref name="k"/> nearest stored vectors of each row-major query.</summary>
    public FaissSearchResult Search(ReadOnlySpan<float> queries, int k, FaissSearchParameters parameters = default)
    {
        var n = RowCount(queries, nameof(queries));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        var total = (long)n * k;
        if (total > Array.MaxLength) throw new ArgumentException($"{n} queries × k={k} results do not fit in one array.", nameof(k));
        var ids = new long[total];
        var distances = new float[total];
        Search(queries, k, distances, ids, parameters);
        return new FaissSearchResult(n, k, ids, distances);
    }

    /// <summary>Allocation-free search: writes query-major results into <paramref name="distances"/> and <paramref name="ids"/> (each ≥ queries × k).</summary>
    public void Search(ReadOnlySpan<float> queries, int k, Span<float> distances, Span<long> ids, FaissSearchParameters parameters = default)
        => SearchCore(queries, k, distances, ids, parameters, reference: false);

    /// <summary>Serializes with <c>faiss::write_index</c>.</summary>
    public byte[] Serialize()
    {
        gate.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            FaissNative.Check(FaissNative.Serialize(handle, out var blob, out var data, out var size), "write_index");
            try
            {
                return new ReadOnlySpan<byte>(data, checked((int)size)).ToArray();
            }
            finally
            {
                FaissNative.FreeBlob(blob);
            }
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    /// <summary>Frees the native index. Waits for calls in progress on other threads.</summary>
    public void Dispose()
    {
        gate.EnterWriteLock();
        try
        {
            if (disposed) return;
            disposed = true;
            handle.Dispose();
        }
        finally
        {
            gate.ExitWriteLock();
        }
        // The lock itself is left to the GC: disposing it would break threads still queued on it.
    }

    /// <summary>FAISS's own <c>Index::search</c> with the index's stored parameters (test reference for our HNSW path).</summary>
    internal void SearchWithFaissDefaults(ReadOnlySpan<float> queries, int k, Span<float> distances, Span<long> ids)
        => SearchCore(queries, k, distances, ids, default, reference: true);

    private void SearchCore(ReadOnlySpan<float> queries, int k, Span<float> distances, Span<long> ids, FaissSearchParameters parameters, bool reference)
    {
        var n = RowCount(queries, nameof(queries));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        var needed = (long)n * k;
        if (distances.Length < needed) throw new ArgumentException($"distances holds {distances.Length} floats; {n} queries × k={k} need {needed}.", nameof(distances));
        if (ids.Length < needed) throw new ArgumentException($"ids holds {ids.Length} longs; {n} queries × k={k} need {needed}.", nameof(ids));
        if (n == 0) return;

        gate.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            fixed (float* x = queries)
            fixed (float* d = distances)
            fixed (long* i = ids)
            {
                var status = reference
                    ? FaissNative.SearchReference(handle, n, x, k, d, i)
                    : FaissNative.Search(handle, n, x, k, parameters.EfSearch, parameters.Nprobe, d, i);
                FaissNative.Check(status, "search");
            }
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    private (long Count, bool IsTrained) ReadInfo()
    {
        gate.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            FaissNative.Check(FaissNative.Info(handle, out _, out var count, out var trained, out _), "index info");
            return (count, trained != 0);
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    // Callers release with gate.ExitWriteLock() in a finally block.
    private void EnterExclusive()
    {
        gate.EnterWriteLock();
        if (!disposed) return;
        gate.ExitWriteLock();
        ObjectDisposedException.ThrowIf(true, this);
    }

    private int RowCount(ReadOnlySpan<float> vectors, string parameterName)
    {
        if (vectors.Length % Dimension != 0)
            throw new ArgumentException(
                $"Span length {vectors.Length} is not a multiple of the index dimension {Dimension}: vectors must be row-major with {Dimension} floats each.",
                parameterName);
        return vectors.Length / Dimension;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
