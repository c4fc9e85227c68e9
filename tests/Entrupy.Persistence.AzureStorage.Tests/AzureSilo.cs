using Azure.Storage.Blobs;
using Entrupy.Registry;
using Entrupy.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;

namespace Entrupy.Persistence.AzureStorage.Tests;

/// <summary>In-process Orleans clusters whose default grain storage is Orleans' Azure Blob provider, set up as our silo does it.</summary>
internal static class AzureSilo
{
    /// <summary>Deploys <paramref name="silos"/> silos with <c>AddAzureBlobGrainStorageAsDefault</c> on <paramref name="container"/>.</summary>
    public static async Task<InProcessTestCluster> DeployAsync(string connectionString, string container, BlobClientOptions? clientOptions = null, short silos = 1)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddContractSerialization();
            silo.AddEntrupyStorageConventions();
            silo.AddAzureBlobGrainStorageAsDefault(connectionString, container, clientOptions);
        });
        // The cluster's client validates the same grain interfaces, so it needs the same codecs.
        builder.ConfigureClient(client => client.Services.AddContractSerialization());
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    /// <summary>The default provider of silo <paramref name="silo"/>.</summary>
    public static IGrainStorage Storage(this InProcessTestCluster cluster, int silo = 0) =>
        cluster.Silos[silo].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.Default);

    /// <summary>A container name unique to one test.</summary>
    public static string NewContainer(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(63, prefix.Length + 33)];
}
