using System.Security.Cryptography;
using Azure.Storage.Blobs;
using Entrupy.Persistence.Conformance;
using Entrupy.Storage;
using Orleans.Storage;
using Orleans.TestingHost;

namespace Entrupy.Persistence.AzureStorage.Tests;

/// <summary>One Azurite and a two-silo cluster on one container, shared by the Azure conformance facts.</summary>
public sealed class AzureBlobSiloFixture : IAsyncLifetime
{
    private AzuriteProcess? _azurite;
    private InProcessTestCluster? _cluster;

    public const string Container = "conformance";

    public AzuriteProcess Azurite => _azurite ?? throw new InvalidOperationException(AzuriteProcess.UnavailableReason ?? "Azurite did not start.");

    public InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException(AzuriteProcess.UnavailableReason ?? "The silos did not start.");

    public async Task InitializeAsync()
    {
        if (AzuriteProcess.UnavailableReason is not null) return;
        _azurite = await AzuriteProcess.StartAsync();
        // Two silos, each with its own provider and blob client: the second is the "reopened" provider.
        _cluster = await AzureSilo.DeployAsync(_azurite.ConnectionString, Container, silos: 2);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
        if (_azurite is not null) await _azurite.DisposeAsync();
    }
}

/// <summary>
/// The conformance kit against Orleans' Azure Blob grain storage on a real Azurite, taken from a silo's services as
/// configured by our <c>AddAzureBlobGrainStorageAsDefault</c> (DeleteStateOnClear, EntrupyGrainStateSerializer).
/// </summary>
public sealed class AzureBlobConformanceTests(AzureBlobSiloFixture fixture) : GrainStorageConformanceTests, IClassFixture<AzureBlobSiloFixture>
{
    protected override bool DisposesStorage => false;

    // Orleans sends no condition when the state has no ETag, so the blob is deleted whatever it holds.
    protected override bool ClearWithNullETagOfExistingRecordConflicts => false;

    // Blob name "{state}-{grain id}.json": state "a-b" of type T and state "a" of type "b-T" are one blob.
    protected override bool SeparatesStateNameFromGrainType => false;

    protected override Task<IGrainStorage> CreateStorageAsync() => Task.FromResult(fixture.Cluster.Storage(0));

    // The other silo's provider: its own blob client over the same container.
    protected override Task<IGrainStorage> ReopenStorageAsync(IGrainStorage storage) => Task.FromResult(fixture.Cluster.Storage(1));

    [Fact]
    public async Task Raw_records_are_stored_as_their_bytes_in_one_blob_each()
    {
        var records = new RecordStore(fixture.Cluster.Storage());
        var data = RandomBytes(4096, seed: 7);
        var key = Record("raw-bytes-" + Guid.NewGuid().ToString("N"));
        var etag = await records.WriteAsync(key, data, null);

        // Read the container with the Azure SDK, not through Orleans: the blob holds exactly the bytes, no JSON.
        var container = new BlobServiceClient(fixture.Azurite.ConnectionString, new BlobClientOptions(AzureBlobGrainStorageHostingExtensions.BlobServiceVersion)).GetBlobContainerClient(AzureBlobSiloFixture.Container);
        var matches = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, null, CancellationToken.None))
        {
            if (!blob.Name.Contains(key.Key, StringComparison.Ordinal)) continue;
            var content = (await container.GetBlobClient(blob.Name).DownloadContentAsync()).Value;
            Assert.Equal(Convert.ToHexString(SHA256.HashData(data)), Convert.ToHexString(SHA256.HashData(content.Content.ToArray())));
            Assert.Equal(etag, content.Details.ETag.ToString());
            matches.Add(blob.Name);
        }
        Assert.Single(matches);
    }
}
