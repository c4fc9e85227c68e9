using Orleans;
using Orleans.Concurrency;

namespace Entrupy.Registry;

/// <summary>
/// One shard of the 1:N index, keyed by shard number (<see cref="IndexSharding.ShardOf"/>). It holds, per tenant,
/// a FAISS index of the global vectors of its items' current fingerprints. Updates are durable (journalled) when
/// their task completes; a restart loads the latest snapshot and replays the journal after it.
/// </summary>
public interface IIndexShardGrain : IGrainWithIntegerKey
{
    /// <summary>Adds or replaces the item's vectors (a re-registration replaces). Idempotent for the same registration number; an older number than the stored one is ignored.</summary>
    Task Upsert(IndexEntry entry);

    /// <summary>Removes the item's vectors (no-op when absent).</summary>
    Task Remove(string tenantId, string customerItemId);

    /// <summary>
    /// The <paramref name="k"/> nearest items of <paramref name="tenantId"/> only, nearest first; an item's similarity
    /// is the largest inner product of the query with any of its vectors. Interleaves with updates: a trace never
    /// waits behind a journal write or a snapshot being stored (it sees the index before or after an update, whole).
    /// </summary>
    [AlwaysInterleave]
    Task<IndexHit[]> Search(string tenantId, float[] globalVector, int k);

    /// <summary>Counts and persistence figures, for health and the dashboard. Interleaves like <see cref="Search"/>.</summary>
    [AlwaysInterleave]
    Task<IndexShardStatus> GetStatus();

    /// <summary>
    /// Writes a snapshot now if updates arrived since the last one (e.g. before a planned shutdown), then trims the
    /// journal it covers; returns the status afterwards. Snapshots are otherwise written every
    /// <c>RegistryOptions.SnapshotEveryUpdates</c> updates and on deactivation.
    /// </summary>
    Task<IndexShardStatus> WriteSnapshot();
}

/// <summary>An item's entry in its shard.</summary>
public sealed record IndexEntry
{
    /// <summary>Tenant.</summary>
    public string TenantId { get; init; } = "";

    /// <summary>Item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>Lineage number of the registration the vector comes from.</summary>
    public int RegistrationNumber { get; init; }

    /// <summary>The fingerprint's global vector (L2-normalised): the upright view of its enrolment.</summary>
    public float[] GlobalVector { get; init; } = [];

    /// <summary>
    /// More views of the same enrolment, searched alongside <see cref="GlobalVector"/> (the global vectors of its
    /// steered descriptor sets): a probe captured turned against the enrolment is nearer one of them. At most
    /// <see cref="MaxAdditionalVectors"/>.
    /// </summary>
    public float[][] AdditionalVectors { get; init; } = [];

    /// <summary>Most <see cref="AdditionalVectors"/> an entry may carry.</summary>
    public const int MaxAdditionalVectors = 7;

    /// <summary>Where the registration's fingerprints are stored (<c>FingerprintRegistration.FingerprintReference</c>), handed back with hits so a trace can re-score without asking the item first.</summary>
    public string? FingerprintReference { get; init; }
}

/// <summary>A nearest-neighbour hit.</summary>
/// <param name="CustomerItemId">The item.</param>
/// <param name="RegistrationNumber">Registration the vector came from.</param>
/// <param name="Similarity">Inner product with the query (higher is nearer).</param>
public sealed record IndexHit(string CustomerItemId, int RegistrationNumber, float Similarity)
{
    /// <summary>The entry's <see cref="IndexEntry.FingerprintReference"/>.</summary>
    public string? FingerprintReference { get; init; }
}

/// <summary>State of one shard.</summary>
public sealed record IndexShardStatus
{
    /// <summary>Shard number.</summary>
    public int Shard { get; init; }

    /// <summary>Items held, all tenants.</summary>
    public int Items { get; init; }

    /// <summary>Vectors in the shard's FAISS indexes (each item has one per view of its enrolment).</summary>
    public long Vectors { get; init; }

    /// <summary>Tenants with at least one vector.</summary>
    public int Tenants { get; init; }

    /// <summary>Journal sequence of the latest update.</summary>
    public long Sequence { get; init; }

    /// <summary>Journal sequence the latest snapshot covers.</summary>
    public long SnapshotSequence { get; init; }

    /// <summary>Bytes of the latest snapshot (0 before the first).</summary>
    public long SnapshotBytes { get; init; }
}

/// <summary>Which shard an item belongs to: a stable hash, the same on every machine and run.</summary>
public static class IndexSharding
{
    /// <summary>Default number of shards.</summary>
    public const int DefaultShardCount = 8;

    /// <summary>Shard of <paramref name="customerItemId"/> among <paramref name="shardCount"/> (FNV-1a over UTF-8, not <c>string.GetHashCode</c>, which is randomised per process).</summary>
    public static int ShardOf(string customerItemId, int shardCount)
    {
        ArgumentNullException.ThrowIfNull(customerItemId);
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        var hash = 2166136261u;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(customerItemId))
        {
            hash ^= b;
            hash *= 16777619u;
        }
        return (int)(hash % (uint)shardCount);
    }
}
