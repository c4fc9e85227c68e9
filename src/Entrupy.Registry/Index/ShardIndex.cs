using System.Text;
using Entrupy.Native.Faiss;

namespace Entrupy.Registry.Index;

/// <summary>
/// The in-memory side of one index shard: per tenant a FAISS inner-product index and its id maps. Not thread-safe
/// (the shard grain runs one turn at a time). Every change arrives as a <see cref="JournalRecord"/>, so replaying the
/// journal rebuilds exactly the same index: the FAISS id of an item's vectors (one per view of its enrolment) is the
/// sequence of the record that added them.
/// </summary>
internal sealed class ShardIndex : IDisposable
{
    private const uint SnapshotMagic = 0x53584945; // "EIXS"
    private const int SnapshotFormatVersion = 2;
    private const int SingleVectorSnapshotFormatVersion = 1;

    // Vectors are kept as half floats: half the memory and half the bytes a search streams (the shim scans them with
    // F16C); rounding moves a similarity by ~1e-5, far below the gaps a shortlist of 100 is drawn across. Tenants
    // loaded from snapshots keep whatever index type they were written with.
    private const string TenantIndexDescription = "SQfp16";

    // One FAISS index per tenant: a search can only ever see the asking tenant's vectors.
    private readonly Dictionary<string, TenantIndex> tenants = new(StringComparer.Ordinal);

    public ShardIndex(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        Dimension = dimension;
    }

    /// <summary>Length of every vector.</summary>
    public int Dimension { get; }

    /// <summary>Items held, all tenants.</summary>
    public int ItemCount => tenants.Values.Sum(t => t.Items.Count);

    /// <summary>Vectors held (each item has one per view), all tenants.</summary>
    public long VectorCount => tenants.Values.Sum(t => t.VectorCount);

    /// <summary>Tenants with at least one vector.</summary>
    public int TenantCount => tenants.Values.Count(t => t.Items.Count > 0);

    /// <summary>
    /// Whether an upsert of <paramref name="registrationNumber"/> would change anything: false when the item already
    /// holds that or a later registration, or when that or a later one was removed.
    /// </summary>
    public bool AcceptsUpsert(string tenantId, string customerItemId, int registrationNumber)
    {
        if (!tenants.TryGetValue(tenantId, out var tenant)) return true;
        if (tenant.Items.TryGetValue(customerItemId, out var slot) && slot.RegistrationNumber >= registrationNumber) return false;
        return !(tenant.Removed.TryGetValue(customerItemId, out var removed) && removed >= registrationNumber);
    }

    /// <summary>Whether the item has a vector.</summary>
    public bool Contains(string tenantId, string customerItemId) =>
        tenants.TryGetValue(tenantId, out var tenant) && tenant.Items.ContainsKey(customerItemId);

    /// <summary>Applies a journalled change (live or replayed).</summary>
    public void Apply(JournalRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!tenants.TryGetValue(record.TenantId, out var tenant))
        {
            if (record.Operation == JournalOperation.Remove) return;
            tenants[record.TenantId] = tenant = new TenantIndex();
        }

        if (tenant.Items.Remove(record.CustomerItemId, out var old))
        {
            tenant.Index!.Remove([old.Id]);
            tenant.VectorCount -= old.VectorCount;
            tenant.SlotOfId.Remove(old.Id);
            if (record.Operation == JournalOperation.Remove) tenant.Removed[record.CustomerItemId] = old.RegistrationNumber;
        }

        if (record.Operation == JournalOperation.Upsert)
        {
            var vectors = record.Vectors is { Length: > 0 } v ? v : throw new InvalidDataException($"Index journal record {record.Sequence} is an upsert without a vector.");
            var rows = new float[vectors.Length * Dimension];
            for (var i = 0; i < vectors.Length; i++)
            {
                if (vectors[i].Length != Dimension) throw new InvalidDataException($"Index journal record {record.Sequence} holds a {vectors[i].Length}-d vector; the shard's are {Dimension}-d.");
                vectors[i].CopyTo(rows, i * Dimension);
            }
            tenant.Index ??= FaissIndex.Create(Dimension, TenantIndexDescription, FaissMetric.InnerProduct);
            tenant.Index.Add(rows, [.. Enumerable.Repeat(record.Sequence, vectors.Length)]);
            tenant.VectorCount += vectors.Length;
            tenant.MostViews = Math.Max(tenant.MostViews, vectors.Length);
            var slot = new Slot(record.CustomerItemId, record.Sequence, record.RegistrationNumber, record.FingerprintReference, vectors.Length);
            tenant.Items[record.CustomerItemId] = slot;
            tenant.SlotOfId[record.Sequence] = slot;
            tenant.Removed.Remove(record.CustomerItemId);
        }
    }

    /// <summary>The <paramref name="k"/> nearest items of one tenant (by their nearest view), nearest first.</summary>
    public IndexHit[] Search(string tenantId, ReadOnlySpan<float> vector, int k)
    {
        if (!tenants.TryGetValue(tenantId, out var tenant) || tenant.Items.Count == 0 || tenant.Index is null) return [];
        // Enough vectors that k distinct items are among them even if each shows with every view; FAISS returns
        // them nearest first, so an item's first appearance is its best view.
        var wanted = Math.Min(k, tenant.Items.Count);
        var result = tenant.Index.Search(vector, (int)Math.Min((long)wanted * tenant.MostViews, tenant.VectorCount));
        var hits = new List<IndexHit>(wanted);
        var seen = new HashSet<long>();
        for (var i = 0; i < result.K && hits.Count < wanted; i++)
        {
            var id = result.Ids[i];
            // One lookup by FAISS id per result (not by item id: hashing the strings was ~4 % of a trace's CPU).
            if (id < 0 || !seen.Add(id) || !tenant.SlotOfId.TryGetValue(id, out var slot)) continue;
            hits.Add(new IndexHit(slot.CustomerItemId, slot.RegistrationNumber, result.Distances[i]) { FingerprintReference = slot.FingerprintReference });
        }
        return [.. hits];
    }

    /// <summary>Serializes every tenant's FAISS index and id maps (deterministic: tenants and items in ordinal order).</summary>
    public byte[] Serialize(int shard, long sequence)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(SnapshotMagic);
            w.Write(SnapshotFormatVersion);
            w.Write(shard);
            w.Write(sequence);
            w.Write(Dimension);
            var kept = tenants.Where(t => t.Value.Items.Count > 0 || t.Value.Removed.Count > 0).OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
            w.Write(kept.Count);
            foreach (var (tenantId, tenant) in kept)
            {
                w.Write(tenantId);
                w.Write(tenant.Items.Count);
                foreach (var (item, slot) in tenant.Items.OrderBy(i => i.Key, StringComparer.Ordinal))
                {
                    w.Write(item);
                    w.Write(slot.Id);
                    w.Write(slot.RegistrationNumber);
                    w.Write(slot.FingerprintReference is not null);
                    if (slot.FingerprintReference is not null) w.Write(slot.FingerprintReference);
                    w.Write(slot.VectorCount);
                }
                w.Write(tenant.Removed.Count);
                foreach (var (item, number) in tenant.Removed.OrderBy(i => i.Key, StringComparer.Ordinal))
                {
                    w.Write(item);
                    w.Write(number);
                }
                var faiss = tenant.Index?.Serialize() ?? [];
                w.Write(faiss.Length);
                w.Write(faiss);
            }
        }
        return buffer.ToArray();
    }

    /// <summary>Rebuilds an index from <see cref="Serialize"/> output; returns it and the sequence it covers.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a snapshot of this shard and dimension.</exception>
    public static (ShardIndex Index, long Sequence) Deserialize(byte[] data, int shard, int dimension)
    {
        var index = new ShardIndex(dimension);
        try
        {
            using var stream = new MemoryStream(data, writable: false);
            using var r = new BinaryReader(stream, Encoding.UTF8);
            if (r.ReadUInt32() != SnapshotMagic) throw new InvalidDataException("Not an index shard snapshot.");
            var format = r.ReadInt32();
            if (format is not (SnapshotFormatVersion or SingleVectorSnapshotFormatVersion))
                throw new InvalidDataException($"Index snapshot format {format} is not supported (this build reads {SingleVectorSnapshotFormatVersion} and {SnapshotFormatVersion}).");
            var storedShard = r.ReadInt32();
            if (storedShard != shard) throw new InvalidDataException($"The snapshot belongs to shard {storedShard}, not {shard}.");
            var sequence = r.ReadInt64();
            var storedDimension = r.ReadInt32();
            if (storedDimension != dimension) throw new InvalidDataException($"The snapshot holds {storedDimension}-d vectors; the model's are {dimension}-d.");
            var tenantCount = r.ReadInt32();
            for (var t = 0; t < tenantCount; t++)
            {
                var tenant = new TenantIndex();
                index.tenants[r.ReadString()] = tenant;
                var items = r.ReadInt32();
                for (var i = 0; i < items; i++)
                {
                    var item = r.ReadString();
                    var slot = new Slot(item, r.ReadInt64(), r.ReadInt32(), r.ReadBoolean() ? r.ReadString() : null, 1);
                    if (format != SingleVectorSnapshotFormatVersion) slot = slot with { VectorCount = r.ReadInt32() };
                    if (slot.VectorCount < 1) throw new InvalidDataException($"Index snapshot: item '{item}' has {slot.VectorCount} vectors.");
                    tenant.Items[item] = slot;
                    tenant.SlotOfId[slot.Id] = slot;
                    tenant.VectorCount += slot.VectorCount;
                    tenant.MostViews = Math.Max(tenant.MostViews, slot.VectorCount);
                }
                var removed = r.ReadInt32();
                for (var i = 0; i < removed; i++) tenant.Removed[r.ReadString()] = r.ReadInt32();
                var faiss = r.ReadBytes(r.ReadInt32());
                if (faiss.Length > 0) tenant.Index = FaissIndex.Deserialize(faiss);
                if ((tenant.Index?.Count ?? 0) != tenant.VectorCount)
                    throw new InvalidDataException($"Index snapshot: a tenant's FAISS index holds {tenant.Index?.Count ?? 0} vectors; its {tenant.Items.Count} items have {tenant.VectorCount}.");
            }
            if (stream.Position != stream.Length) throw new InvalidDataException("Index snapshot: trailing bytes.");
            return (index, sequence);
        }
        catch (Exception ex) when (ex is EndOfStreamException or FaissException)
        {
            index.Dispose();
            throw new InvalidDataException($"Corrupt index snapshot: {ex.Message}", ex);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var tenant in tenants.Values) tenant.Index?.Dispose();
        tenants.Clear();
    }

    private readonly record struct Slot(string CustomerItemId, long Id, int RegistrationNumber, string? FingerprintReference, int VectorCount);

    private sealed class TenantIndex
    {
        public FaissIndex? Index { get; set; }
        public Dictionary<string, Slot> Items { get; } = new(StringComparer.Ordinal);
        public Dictionary<long, Slot> SlotOfId { get; } = []; // the same slots as Items, by FAISS id
        public long VectorCount { get; set; }

        // Most views any item has had: a search asks FAISS for this many vectors per wanted item.
        public int MostViews { get; set; } = 1;

        // Registration number removed last, per item: a late retry of that (or an older) registration stays out.
        public Dictionary<string, int> Removed { get; } = new(StringComparer.Ordinal);
    }
}
