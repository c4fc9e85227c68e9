using Entrupy.Grains.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Grains.Runtime.Tests;

internal static class Clusters
{
    /// <summary>A test cluster with the well-behaved test grains and a fresh <see cref="Probe"/>.</summary>
    public static async Task<(TestCluster Cluster, Probe Probe)> StartAsync(Action<SiloOptions>? configure = null, Action<IServiceCollection>? services = null)
    {
        var probe = new Probe();
        var builder = new TestClusterBuilder()
            .AddGrain<InterleavingGrain>()
            .AddGrain<ReentrantInterleavingGrain>()
            .AddGrain<DeadlockAGrain>()
            .AddGrain<DeadlockBGrain>()
            .AddGrain<ReentrantAGrain>()
            .AddGrain<ReentrantBGrain>()
            .AddGrain<WorkerGrain>()
            .AddGrain<SlowGrain>()
            .AddGrain<LifecycleGrain>()
            .AddGrain<SerializationGrain>()
            .AddGrain<PingGrain>()
            .ConfigureServices(s => s.AddSingleton(probe));
        if (configure is not null) builder.ConfigureSilo(configure);
        if (services is not null) builder.ConfigureServices(services);
        return (await builder.DeployAsync(), probe);
    }
}
