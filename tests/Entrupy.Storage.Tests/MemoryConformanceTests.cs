using Entrupy.Persistence.Conformance;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Storage;
using Orleans.TestingHost;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Storage.Tests;

/// <summary>One silo with Orleans' memory grain storage as its default provider, shared by the memory conformance facts.</summary>
public sealed class MemoryStorageSiloFixture : IAsyncLifetime
{
    private InProcessTestCluster? _cluster;

    public InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException("The silo did not start.");

    public async Task InitializeAsync() => _cluster = await TestSilo.DeployAsync(silo => silo.AddMemoryGrainStorageAsDefault());

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
    }
}

/// <summary>
/// The conformance kit against Orleans' memory grain storage, taken from a real silo's services (it keeps state in
/// storage grains, so it only works inside a silo). Each fact files its records under a grain type of its own.
/// </summary>
public sealed class MemoryConformanceTests(MemoryStorageSiloFixture silo) : GrainStorageConformanceTests, IClassFixture<MemoryStorageSiloFixture>
{
    protected override bool IsDurable => false;

    // Orleans accepts an ETag for a record it does not hold: its storage grain may have been lost with a silo.
    protected override bool RejectsETagOfMissingRecord => false;

    protected override bool DisposesStorage => false;

    protected override Task<IGrainStorage> CreateStorageAsync() => Task.FromResult(silo.Cluster.Storage());

    [Fact]
    public void The_silo_provider_is_Orleans_memory_storage_with_our_serializer()
    {
        var storage = silo.Cluster.Storage();
        Assert.IsType<MemoryGrainStorage>(storage);
        var options = silo.Cluster.Silos[0].ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<MemoryGrainStorageOptions>>().Get(StorageNames.Default);
        Assert.IsType<EntrupyGrainStateSerializer>(options.GrainStorageSerializer);
    }
}
