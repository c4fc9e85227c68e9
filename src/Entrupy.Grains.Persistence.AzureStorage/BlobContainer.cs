using Entrupy.Grains.Persistence.AzureStorage.Rest;

namespace Entrupy.Grains.Persistence.AzureStorage;

/// <summary>One container through the REST client; creates it on first use (and again after a failed attempt).</summary>
internal sealed class BlobContainer : IDisposable
{
    private readonly BlobRestClient _client;
    private readonly SemaphoreSlim _createGate = new(1, 1);
    private volatile bool _created;

    public BlobContainer(AzureBlobStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // A private copy: changing the caller's options object later must not change a running provider.
        options = options.Clone();
        options.Validate();
        Name = options.ContainerName;
        _client = new BlobRestClient(StorageConnectionString.Parse(options.ConnectionString), options);
    }

    public string Name { get; }

    public async Task<BlobDownload?> GetAsync(string blobName, CancellationToken cancellationToken)
    {
        await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        return await _client.GetBlobAsync(Name, blobName, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string?> GetETagAsync(string blobName, CancellationToken cancellationToken)
    {
        await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        return await _client.GetBlobETagAsync(Name, blobName, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string?> PutAsync(string blobName, ReadOnlyMemory<byte> data, BlobCondition condition, CancellationToken cancellationToken)
    {
        await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await _client.PutBlockBlobAsync(Name, blobName, data, condition, cancellationToken).ConfigureAwait(false);
        }
        catch (ContainerNotFoundException)
        {
            // Deleted behind our back (or lost by an emulator killed before it saved): create it again, once.
            _created = false;
            await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
            return await _client.PutBlockBlobAsync(Name, blobName, data, condition, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<bool> DeleteAsync(string blobName, string? ifMatchETag, CancellationToken cancellationToken)
    {
        await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        return await _client.DeleteBlobAsync(Name, blobName, ifMatchETag, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<BlobListItem>> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        return await _client.ListBlobsAsync(Name, prefix, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes the whole container (tests and tooling; the providers never call it).</summary>
    public async Task<bool> DeleteContainerAsync(CancellationToken cancellationToken)
    {
        _created = false;
        return await _client.DeleteContainerAsync(Name, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _client.Dispose();
        _createGate.Dispose();
    }

    private async Task EnsureCreatedAsync(CancellationToken cancellationToken)
    {
        if (_created) return;
        await _createGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_created) return;
            await _client.CreateContainerIfNotExistsAsync(Name, cancellationToken).ConfigureAwait(false);
            _created = true;
        }
        finally
        {
            _createGate.Release();
        }
    }
}
