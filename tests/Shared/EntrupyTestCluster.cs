using Entrupy.Persistence.Sqlite;
using Entrupy.Registry;
using Entrupy.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Hosting;
using Orleans.Storage;
using Orleans.TestingHost;

namespace Entrupy.TestSupport;

/// <summary>
/// Orleans' in-process test cluster set up the way every Entrupy silo is: contract serialization on silos and client,
/// <see cref="EntrupyGrainStateSerializer"/> for grain state, and (when a path is given) our SQLite provider as the
/// default storage on a real file shared by every silo of the cluster. Linked into the registry and inference tests.
/// </summary>
internal static class EntrupyTestCluster
{
    /// <summary>A builder for <paramref name="silos"/> silos; <paramref name="configureSilo"/> adds the grains and anything else.</summary>
    /// <param name="databasePath">SQLite file of the default storage provider; none registered when null.</param>
    /// <param name="configureSilo">Called for every silo, also ones started later (restart, additional silos).</param>
    /// <param name="silos">Initial silo count.</param>
    public static InProcessTestClusterBuilder Builder(string? databasePath, Action<ISiloBuilder> configureSilo, short silos = 1)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        // No per-test log files in the working directory: failures carry their exceptions.
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddContractSerialization();
            silo.AddEntrupyStorageConventions();
            if (databasePath is not null) silo.Services.AddSqliteGrainStorageAsDefault(databasePath);
            configureSilo(silo);
        });
        builder.ConfigureClient(client => client.Services.AddContractSerialization());
        return builder;
    }

    /// <summary>Builds and deploys; the cluster is stopped again when deployment fails.</summary>
    public static async Task<InProcessTestCluster> DeployAsync(this InProcessTestClusterBuilder builder)
    {
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The services of the first silo still running (where the in-silo services such as <c>IItemRegistry</c> live).</summary>
    public static IServiceProvider SiloServices(this InProcessTestCluster cluster) => cluster.GetActiveSilos().First().ServiceProvider;

    /// <summary>
    /// The grain factory of the first silo still running: calls made the way the silo's HTTP endpoints and
    /// <c>IItemRegistry</c> make them (arguments and results still go through Orleans' copier).
    /// </summary>
    public static IGrainFactory SiloGrains(this InProcessTestCluster cluster) => cluster.SiloServices().GetRequiredService<IGrainFactory>();
}

/// <summary>One silo of <see cref="EntrupyTestCluster"/>, for tests of single grains: the client's grain factory and the silo's services.</summary>
internal sealed class TestSilo(InProcessTestCluster cluster) : IAsyncDisposable
{
    /// <summary>Gets grain references through the cluster's client (calls are serialized, as between silos).</summary>
    public IGrainFactory GrainFactory => cluster.Client;

    /// <summary>The silo's services.</summary>
    public IServiceProvider Services => cluster.SiloServices();

    /// <summary>Starts one silo; <paramref name="configure"/> adds the storage provider and grain dependencies.</summary>
    public static async Task<TestSilo> StartAsync(Action<ISiloBuilder> configure) =>
        new(await EntrupyTestCluster.Builder(null, configure).DeployAsync());

    /// <inheritdoc />
    public ValueTask DisposeAsync() => cluster.DisposeAsync();
}
