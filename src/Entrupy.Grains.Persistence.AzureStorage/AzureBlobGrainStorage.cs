using Entrupy.Grains.Persistence.AzureStorage.Rest;

namespace Entrupy.Grains.Persistence.AzureStorage;

/// <summary>
/// Grain state in Azure Blob Storage (or Azurite): one block blob per record, named
/// <c>{grainType}/{grainKey}/{stateName}</c> with each part URL-escaped, in one container. The blob's ETag is the
/// record's ETag, and every write and clear is an ETag-conditional request, so concurrent writers across silos are
/// safe: exactly one of two writers holding the same ETag wins.
/// </summary>
/// <remarks>
/// Transient failures are retried a bounded number of times (<see cref="AzureBlobStorageOptions"/>), then surface as
/// <see cref="StorageUnavailableException"/>; non-transient ones (a wrong key, 403) as <see cref="GrainStorageException"/>
/// carrying Azure's error code. A write returns once Azure acknowledged it, which Azure makes durable.
/// </remarks>
public sealed class AzureBlobGrainStorage : IGrainStorage, IDisposable
{
    private readonly BlobContainer _container;

    /// <summary>Creates the provider; nothing is contacted until the first call (which creates the container if needed).</summary>
    /// <exception cref="ArgumentException">The options are incomplete or invalid.</exception>
    /// <exception cref="FormatException">The connection string cannot be used; the message says why.</exception>
    public AzureBlobGrainStorage(AzureBlobStorageOptions options)
    {
        _container = new BlobContainer(options);
    }

    /// <summary>The container holding the records.</summary>
    public string ContainerName => _container.Name;

    /// <summary>Azure's limit on blob name length, in characters.</summary>
    internal const int MaxBlobNameLength = 1024;

    /// <summary>
    /// The blob name of a record: <c>{grainType}/{grainKey}/{stateName}</c>, each part URL-escaped. A name that would
    /// exceed Azure's 1024 characters gets the SHA-256 of the grain key (then of every part) in place of the part.
    /// </summary>
    public static string BlobNameOf(GrainStateKey key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key.GrainType, nameof(key));
        ArgumentException.ThrowIfNullOrEmpty(key.StateName, nameof(key));
        ArgumentNullException.ThrowIfNull(key.GrainKey, nameof(key));
        var name = $"{EscapeSegment(key.GrainType)}/{EscapeSegment(key.GrainKey)}/{EscapeSegment(key.StateName)}";
        if (name.Length <= MaxBlobNameLength) return name;
        name = $"{EscapeSegment(key.GrainType)}/{HashSegment(key.GrainKey)}/{EscapeSegment(key.StateName)}";
        if (name.Length <= MaxBlobNameLength) return name;
        return $"{HashSegment(key.GrainType)}/{HashSegment(key.GrainKey)}/{HashSegment(key.StateName)}";
    }

    private static string EscapeSegment(string part)
    {
        // Escaping keeps a '/' inside a key from creating another level. Cases escaping leaves ambiguous or that Azure
        // and URLs treat specially get forms EscapeDataString never produces: "" becomes a lone '%', and trailing dots
        // (Azure trims them; "." and ".." are URL path steps) become %2E.
        if (part.Length == 0) return "%";
        var escaped = Uri.EscapeDataString(part);
        var trimmed = escaped.TrimEnd('.');
        return trimmed.Length == escaped.Length
            ? escaped
            : trimmed + string.Concat(Enumerable.Repeat("%2E", escaped.Length - trimmed.Length));
    }

    // "%h" is never produced by escaping, so a hashed part cannot equal an escaped one.
    private static string HashSegment(string part)
        => "%h" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(part)));

    /// <inheritdoc />
    public async Task<GrainStateRecord?> ReadAsync(GrainStateKey key, CancellationToken cancellationToken = default)
    {
        var blob = await _container.GetAsync(BlobNameOf(key), cancellationToken).ConfigureAwait(false);
        return blob is null ? null : new GrainStateRecord(blob.Content, blob.ETag);
    }

    /// <inheritdoc />
    public async Task<string> WriteAsync(GrainStateKey key, ReadOnlyMemory<byte> data, string? expectedETag, CancellationToken cancellationToken = default)
    {
        var name = BlobNameOf(key);
        var condition = expectedETag is null ? BlobCondition.MustNotExist : BlobCondition.MustMatch(expectedETag);
        var etag = await _container.PutAsync(name, data, condition, cancellationToken).ConfigureAwait(false);
        if (etag is not null) return etag;
        throw await ConflictAsync(key, name, expectedETag, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task ClearAsync(GrainStateKey key, string? expectedETag, CancellationToken cancellationToken = default)
    {
        var name = BlobNameOf(key);
        if (expectedETag is null)
        {
            // "Must not exist": there is nothing to delete; it only has to be true.
            var stored = await _container.GetETagAsync(name, cancellationToken).ConfigureAwait(false);
            if (stored is not null) throw new InconsistentStateException(key, null, stored);
            return;
        }

        if (!await _container.DeleteAsync(name, expectedETag, cancellationToken).ConfigureAwait(false))
            throw await ConflictAsync(key, name, expectedETag, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Dispose() => _container.Dispose();

    /// <summary>The container, for tests that need to reach past the provider (delete it, say).</summary>
    internal BlobContainer Container => _container;

    private async Task<InconsistentStateException> ConflictAsync(GrainStateKey key, string name, string? expectedETag, CancellationToken cancellationToken)
    {
        // Only on the (rare) conflict path: one HEAD so the message can say what storage holds now.
        string? stored;
        try
        {
            stored = await _container.GetETagAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (StorageUnavailableException)
        {
            stored = null;
        }

        return new InconsistentStateException(key, expectedETag, stored);
    }
}
