namespace Entrupy.Registry;

/// <summary>Registry settings. Register an instance as a singleton to override the defaults.</summary>
public sealed class RegistryOptions
{
    /// <summary>The defaults, used when none is registered.</summary>
    public static RegistryOptions Default { get; } = new();

    /// <summary>
    /// Base of the https URI that names an item without its own EPC in EPCIS exports:
    /// <c>{ItemUriBase}{tenant}/{customerItemId}</c>. Must end with '/'.
    /// </summary>
    public string ItemUriBase { get; init; } = "https://id.registry.entrupy.com/items/";

    /// <summary>JSON-LD namespace of the registry's EPCIS extension fields (prefix <c>entrupy:</c>).</summary>
    public string ExtensionNamespace { get; init; } = "https://id.registry.entrupy.com/voc/";

    /// <summary>
    /// Number of index shards (<see cref="IndexSharding.ShardOf"/> picks an item's shard). Fixed for the life of the
    /// data: changing it moves items to other shards, so their vectors must be re-indexed.
    /// </summary>
    public int ShardCount { get; init; } = IndexSharding.DefaultShardCount;

    /// <summary>
    /// A shard writes a snapshot after this many journalled updates (and on deactivation), then deletes the journal
    /// records it covers. Smaller: faster activation, more snapshot writing (a snapshot holds every vector of the shard).
    /// </summary>
    public int SnapshotEveryUpdates { get; init; } = 1000;

    /// <summary>Snapshots are stored in records of at most this many bytes, so storage rows and blobs stay small.</summary>
    public int SnapshotChunkBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// Trace: how many candidates (by global-vector similarity) are first re-scored with the 1:1 matcher. 5 (the
    /// default <c>top</c>) measured 95 → 122 traces/s against 10 with the same recall@1, since the set widens anyway
    /// while nothing matches.
    /// </summary>
    public int TraceShortlist { get; init; } = 5;

    /// <summary>
    /// Trace: when nothing in the shortlist matches, the re-scored set doubles until something matches or this many
    /// candidates were scored. Also the number of nearest vectors each shard returns.
    /// </summary>
    public int TraceMaxCandidates { get; init; } = 100;

    /// <summary>
    /// Index every view of an enrolment (its upright global vector and those of its steered descriptor sets), not
    /// only the upright one. At 1,200 items it lifted trace recall@1 from 0.95 to 0.99 (a probe turned against its
    /// enrolment is nearer a steered view), for three times the index memory and a slower scan per query. Applies to
    /// registrations from then on.
    /// </summary>
    public bool IndexSteeredViews { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first malformed option.</summary>
    public void Validate()
    {
        RequireHttpsBase(ItemUriBase, nameof(ItemUriBase));
        RequireHttpsBase(ExtensionNamespace, nameof(ExtensionNamespace));
        RequireRange(ShardCount, 1, 4096, nameof(ShardCount));
        RequireRange(SnapshotEveryUpdates, 1, 10_000_000, nameof(SnapshotEveryUpdates));
        RequireRange(SnapshotChunkBytes, 1024, 256 * 1024 * 1024, nameof(SnapshotChunkBytes));
        RequireRange(TraceShortlist, 1, 10_000, nameof(TraceShortlist));
        RequireRange(TraceMaxCandidates, TraceShortlist, 10_000, nameof(TraceMaxCandidates));
    }

    private static void RequireHttpsBase(string value, string name)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps || !value.EndsWith('/'))
            throw new ArgumentException($"RegistryOptions.{name} must be an absolute https URI ending with '/', not '{value}'.", name);
    }

    private static void RequireRange(int value, int min, int max, string name)
    {
        if (value < min || value > max)
            throw new ArgumentException($"RegistryOptions.{name} must be {min}-{max}, not {value}.", name);
    }
}
