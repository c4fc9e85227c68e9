using Entrupy.Registry;
using Entrupy.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;

namespace Entrupy.Silo.Tests;

/// <summary>
/// One Orleans silo in this process (Orleans' InProcessTestCluster) with our serialization and state serializer, for
/// tests of single grains; the configure action adds the storage provider and grain dependencies.
/// </summary>
public sealed class TestSilo : IAsyncDisposable
{
    private readonly InProcessTestCluster cluster;

    private TestSilo(InProcessTestCluster cluster) => this.cluster = cluster;

    /// <summary>Gets grain references through the cluster's client, as the API does.</summary>
    public IGrainFactory GrainFactory => cluster.Client;

    /// <summary>The silo's services.</summary>
    public IServiceProvider Services => cluster.Silos[0].ServiceProvider;

    public static async Task<TestSilo> StartAsync(Action<ISiloBuilder> configure)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddContractSerialization();
            silo.Services.AddSingleton<IGrainStorageSerializer, EntrupyGrainStateSerializer>();
            silo.AddStateWriteFailureDeactivation();
            configure(silo);
        });
        builder.ConfigureClient(client => client.Services.AddContractSerialization());
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new TestSilo(cluster);
    }

    public async ValueTask DisposeAsync()
    {
        await cluster.StopAllSilosAsync();
        await cluster.DisposeAsync();
    }
}
