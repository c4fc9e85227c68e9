using Entrupy.Grains.Persistence.AzureStorage.Rest;

namespace Entrupy.Grains.Persistence.AzureStorage;

/// <summary>
/// <see cref="IBlobSnapshotStore"/> over one Azure Blob container (or Azurite), through the same REST client, retries
/// and error mapping as <see cref="AzureBlobGrainStorage"/>.
/// </summary>
public sealed class AzureBlobSnapshotStore : IBlobSnapshotStore, IDisposable
{
    private readonly BlobContainer _container;

    /// <summary>Creates the store; nothing is contacted until the first call (which creates the container if needed).</summary>
    /// <exception cref="ArgumentException">The options are incomplete or invalid.</exception>
    /// <exception cref="FormatException">The connection string cannot be used; the message says why.</exception>
    public AzureBlobSnapshotStore(AzureBlobStorageOptions options)
    {
        _container = new BlobContainer(options);
    }

    /// <summary>The container holding the blobs.</summary>
    public string ContainerName => _container.Name;

    /// <inheritdoc />
    public async Task<string> PutAsync(string name, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        CheckName(name);
        var etag = await _container.PutAsync(name, data, BlobCondition.None, cancellationToken).ConfigureAwait(false);
        return etag ?? throw new GrainStorageException($"Azure Blob Storage: an unconditional put of {name} reported a failed condition.");
    }

    /// <inheritdoc />
    public Task<string?> TryPutAsync(string name, ReadOnlyMemory<byte> data, string? expectedETag, CancellationToken cancellationToken = default)
    {
        CheckName(name);
        var condition = expectedETag is null ? BlobCondition.MustNotExist : BlobCondition.MustMatch(expectedETag);
        return _container.PutAsync(name, data, condition, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<BlobSnapshot?> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        CheckName(name);
        var blob = await _container.GetAsync(name, cancellationToken).ConfigureAwait(false);
        return blob is null ? null : new BlobSnapshot(name, blob.Content, blob.ETag);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<BlobSnapshotInfo>> ListAsync(string prefix, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var items = await _container.ListAsync(prefix, cancellationToken).ConfigureAwait(false);
        return items.Select(i => new BlobSnapshotInfo(i.Name, i.ETag, i.Length, i.LastModified))
            .OrderBy(i => i.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <inheritdoc />
    public Task<bool> DeleteAsync(string name, string? expectedETag = null, CancellationToken cancellationToken = default)
    {
        CheckName(name);
        return _container.DeleteAsync(name, expectedETag, cancellationToken);
    }

    /// <inheritdoc />
    public void Dispose() => _container.Dispose();

    private static void CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        // Empty and dot segments would be folded away by URL path normalization and address another blob.
        if (name.Length > 1024 || name.Split('/').Any(s => s.Length == 0 || s.All(c => c == '.')))
            throw new ArgumentException($"Blob name '{name}' is invalid: use 1-1024 characters of '/'-separated, non-empty segments other than '.' and '..'.", nameof(name));
    }
}
