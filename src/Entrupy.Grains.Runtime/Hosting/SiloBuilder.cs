using System.Reflection;
using Entrupy.Grains.Runtime.Cluster;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Entrupy.Grains.Runtime;

/// <summary>
/// Configures a silo: options, grain classes and services. Storage providers and other extensions register
/// themselves on <see cref="Services"/> (or through <see cref="ConfigureServices"/>).
/// </summary>
public sealed class SiloBuilder
{
    private readonly GrainClassRegistrations _registrations;

    /// <summary>A builder for a standalone silo (<see cref="Build"/> creates its own service provider).</summary>
    public SiloBuilder() : this(new ServiceCollection())
    {
    }

    /// <summary>A builder that registers the silo into an existing service collection (a generic host's).</summary>
    public SiloBuilder(IServiceCollection services)
    {
        Services = services;
        var existing = services.FirstOrDefault(d => d.ServiceType == typeof(SiloOptions))?.ImplementationInstance as SiloOptions;
        Options = existing ?? new SiloOptions();
        _registrations = services.FirstOrDefault(d => d.ServiceType == typeof(GrainClassRegistrations))?.ImplementationInstance as GrainClassRegistrations
                         ?? new GrainClassRegistrations();
        if (existing is null) AddCoreServices(services);
    }

    /// <summary>The silo's service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The options being configured.</summary>
    public SiloOptions Options { get; }

    /// <summary>Changes options.</summary>
    public SiloBuilder Configure(Action<SiloOptions> configure)
    {
        configure(Options);
        return this;
    }

    /// <summary>Adds services (storage providers, grain dependencies, a replacement placement or transport…).</summary>
    public SiloBuilder ConfigureServices(Action<IServiceCollection> configure)
    {
        configure(Services);
        return this;
    }

    /// <summary>Hosts a grain class.</summary>
    public SiloBuilder AddGrain<TGrain>() where TGrain : Grain => AddGrain(typeof(TGrain));

    /// <summary>Hosts a grain class.</summary>
    public SiloBuilder AddGrain(Type grainClass)
    {
        if (!typeof(Grain).IsAssignableFrom(grainClass) || grainClass.IsAbstract)
            throw new ArgumentException($"{grainClass} is not a concrete grain class.", nameof(grainClass));
        _registrations.GrainClasses.Add(grainClass);
        return this;
    }

    /// <summary>Hosts every concrete grain class of an assembly (optionally filtered).</summary>
    public SiloBuilder AddGrainsFromAssembly(Assembly assembly, Func<Type, bool>? filter = null)
    {
        foreach (var type in assembly.GetTypes())
        {
            if (typeof(Grain).IsAssignableFrom(type) && type is { IsAbstract: false, IsGenericTypeDefinition: false } &&
                type.GetInterfaces().Any(i => typeof(IGrain).IsAssignableFrom(i)) && (filter is null || filter(type)))
                _registrations.GrainClasses.Add(type);
        }
        return this;
    }

    /// <summary>Builds a standalone silo with its own service provider (start it with <see cref="Silo.StartAsync"/>).</summary>
    public Silo Build()
    {
        var provider = Services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = false, ValidateScopes = false });
        return new Silo(provider.GetRequiredService<SiloRuntime>(), provider);
    }

    private void AddCoreServices(IServiceCollection services)
    {
        services.AddLogging();
        services.AddSingleton(Options);
        services.AddSingleton(_registrations);
        services.TryAddSingleton(new LocalSiloDetails(new SiloAddress("local", DateTime.UtcNow.Ticks)));
        services.TryAddSingleton<IPlacementDirector, LocalPlacementDirector>();
        services.TryAddSingleton<IGrainDirectory, LocalGrainDirectory>();
        services.TryAddSingleton<IMessageTransport, NoRemoteSilosTransport>();
        services.AddSingleton<SiloRuntime>();
        services.AddSingleton<IGrainFactory>(sp => sp.GetRequiredService<SiloRuntime>().GrainFactory);
        services.AddSingleton<ISiloStatistics>(sp => sp.GetRequiredService<SiloRuntime>());
        services.AddSingleton(sp => new Silo(sp.GetRequiredService<SiloRuntime>(), ownedProvider: null));
    }
}

/// <summary>Registers a silo in a generic host.</summary>
public static class SiloServiceCollectionExtensions
{
    /// <summary>
    /// Adds a silo to <paramref name="services"/>: it starts and stops with the host, and <see cref="IGrainFactory"/>,
    /// <see cref="ISiloStatistics"/> and <see cref="Silo"/> are resolvable.
    /// </summary>
    public static IServiceCollection AddGrainSilo(this IServiceCollection services, Action<SiloBuilder> configure)
    {
        var builder = new SiloBuilder(services);
        configure(builder);
        if (!services.Any(d => d.ImplementationType == typeof(SiloHostedService)))
            services.AddHostedService<SiloHostedService>();
        return services;
    }
}
