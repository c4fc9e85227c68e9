using Entrupy.Persistence.Sqlite;
using Entrupy.Registry;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Storage;
using Orleans.TestingHost;

namespace Entrupy.Storage.Tests;

/// <summary>In-process Orleans clusters set up as every silo of ours is (contract serialization, our state serializer).</summary>
internal static class TestSilo
{
    /// <summary>Deploys a one-silo cluster; <paramref name="storage"/> adds the grain storage providers.</summary>
    public static async Task<InProcessTestCluster> DeployAsync(Action<ISiloBuilder> storage)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddContractSerialization();
            silo.Services.AddSingleton<IGrainStorageSerializer, EntrupyGrainStateSerializer>();
            storage(silo);
        });
        // The cluster's client validates the same grain interfaces, so it needs the same codecs.
        builder.ConfigureClient(client => client.Services.AddContractSerialization());
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    /// <summary>A cluster whose default provider is <see cref="SqliteGrainStorage"/> on <paramref name="databasePath"/>.</summary>
    public static Task<InProcessTestCluster> DeploySqliteAsync(string databasePath, Action<ISiloBuilder>? more = null) =>
        DeployAsync(silo =>
        {
            silo.Services.AddSqliteGrainStorageAsDefault(databasePath);
            more?.Invoke(silo);
        });

    /// <summary>The silo's provider of that name.</summary>
    public static IGrainStorage Storage(this InProcessTestCluster cluster, string name = StorageNames.Default) =>
        cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(name);
}
