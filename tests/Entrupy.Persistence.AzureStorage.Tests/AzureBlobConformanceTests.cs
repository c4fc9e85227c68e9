using Entrupy.Grains.Persistence.Conformance;

namespace Entrupy.Grains.Persistence.AzureStorage.Tests;

/// <summary>The shared conformance kit against <see cref="AzureBlobGrainStorage"/> on a real Azurite; one container per test.</summary>
[Collection("azurite")]
public sealed class AzureBlobConformanceTests(AzuriteFixture azurite) : GrainStorageConformanceTests
{
    private readonly AzureBlobStorageOptions _options = azurite.NewContainerOptions("conformance");

    protected override Task<IGrainStorage> CreateStorageAsync() => Task.FromResult<IGrainStorage>(new AzureBlobGrainStorage(_options));
}
