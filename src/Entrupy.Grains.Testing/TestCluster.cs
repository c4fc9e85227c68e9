using System.Reflection;
using Entrupy.Grains.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Grains.Testing;

/// <summary>
/// Builds an in-process cluster for tests, like Orleans' <c>TestClusterBuilder</c>. It differs from a production
/// silo in one default: every call's arguments and results round-trip through the serializer, so tests catch shared
/// mutable state and non-serializable types the way a second silo would.
/// </summary>
public sealed class TestClusterBuilder
{
    private readonly SiloBuilder _silo = new();

    /// <summary>Creates a builder; round-tripping through the serializer is on.</summary>
    public TestClusterBuilder() => _silo.Configure(o => o.RoundTripCallsThroughSerializer = true);

    /// <summary>Hosts a grain class.</summary>
    public TestClusterBuilder AddGrain<TGrain>() where TGrain : Grain
    {
        _silo.AddGrain<TGrain>();
        return this;
    }

    /// <summary>Hosts every concrete grain class of an assembly (optionally filtered).</summary>
    public TestClusterBuilder AddGrainsFromAssembly(Assembly assembly, Func<Type, bool>? filter = null)
    {
        _silo.AddGrainsFromAssembly(assembly, filter);
        return this;
    }

    /// <summary>Changes silo options.</summary>
    public TestClusterBuilder ConfigureSilo(Action<SiloOptions> configure)
    {
        _silo.Configure(configure);
        return this;
    }

    /// <summary>Adds services (storage providers, grain dependencies).</summary>
    public TestClusterBuilder ConfigureServices(Action<IServiceCollection> configure)
    {
        _silo.ConfigureServices(configure);
        return this;
    }

    /// <summary>Direct access to the silo builder, for extension methods written against it.</summary>
    public SiloBuilder SiloBuilder => _silo;

    /// <summary>Builds and starts the cluster.</summary>
    public async Task<TestCluster> DeployAsync(CancellationToken cancellationToken = default)
    {
        var silo = _silo.Build();
        try
        {
            await silo.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await silo.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new TestCluster(silo);
    }
}

/// <summary>A running in-process cluster (one silo today). Dispose it to stop it.</summary>
public sealed class TestCluster : IAsyncDisposable
{
    internal TestCluster(Silo silo) => Silo = silo;

    /// <summary>The silo.</summary>
    public Silo Silo { get; }

    /// <summary>Gets grain references, as a client would.</summary>
    public IGrainFactory GrainFactory => Silo.GrainFactory;

    /// <summary>The silo's services.</summary>
    public IServiceProvider Services => Silo.Services;

    /// <summary>Per grain type counters.</summary>
    public ISiloStatistics Statistics => Silo.Statistics;

    /// <summary>Statistics of one grain type (by its stable grain type name).</summary>
    public GrainTypeStatistics GetStatistics(string grainType)
        => Statistics.GetGrainTypeStatistics().Single(s => s.GrainType == grainType);

    /// <summary>Stops the silo, deactivating every grain.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => Silo.StopAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Silo.DisposeAsync();
}
