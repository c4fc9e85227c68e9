namespace Entrupy.Grains.Persistence.AzureStorage;

/// <summary>
/// A small named-blob store for data that is not grain state: index-shard snapshots, the webhook outbox.
/// Names are <c>/</c>-separated paths (for prefix listing); each write returns the blob's new ETag.
/// </summary>
public interface IBlobSnapshotStore
{
    /// <summary>Stores <paramref name="data"/> under <paramref name="name"/>, replacing what is there; returns the new ETag.</summary>
    Task<string> PutAsync(string name, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores <paramref name="data"/> only if the blob's ETag is <paramref name="expectedETag"/>, or, when that is null,
    /// only if no blob exists. Returns the new ETag, or null when the condition did not hold (nothing was changed).
    /// </summary>
    Task<string?> TryPutAsync(string name, ReadOnlyMemory<byte> data, string? expectedETag, CancellationToken cancellationToken = default);

    /// <summary>Reads a blob, or null when none exists.</summary>
    Task<BlobSnapshot?> GetAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Lists the blobs whose names start with <paramref name="prefix"/> (empty: all), in ordinal name order.</summary>
    Task<IReadOnlyList<BlobSnapshotInfo>> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes a blob, only if its ETag is <paramref name="expectedETag"/> when that is given.
    /// Returns false when there was nothing to delete or the ETag did not match.
    /// </summary>
    Task<bool> DeleteAsync(string name, string? expectedETag = null, CancellationToken cancellationToken = default);
}

/// <summary>A stored blob's content and ETag.</summary>
/// <param name="Name">The blob's name.</param>
/// <param name="Data">Its bytes.</param>
/// <param name="ETag">Its current ETag.</param>
public sealed record BlobSnapshot(string Name, ReadOnlyMemory<byte> Data, string ETag);

/// <summary>One entry of <see cref="IBlobSnapshotStore.ListAsync"/>.</summary>
/// <param name="Name">The blob's name.</param>
/// <param name="ETag">Its current ETag.</param>
/// <param name="Length">Its size in bytes.</param>
/// <param name="LastModified">When it was last written (storage clock).</param>
public sealed record BlobSnapshotInfo(string Name, string ETag, long Length, DateTimeOffset LastModified);
