using Entrupy.Grains.Runtime.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Entrupy.Grains.Persistence;

/// <summary>Registers grain state persistence: the <see cref="IPersistentStateFactory"/> and named storage providers.</summary>
public static class GrainStorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <see cref="IPersistentStateFactory"/> the runtime uses for <c>[PersistentState]</c> parameters.
    /// Every <c>Add*GrainStorage</c> call does this too; call it yourself only to change serializer options.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Changes to the defaults (System.Text.Json web defaults), applied once.</param>
    public static IServiceCollection AddGrainStatePersistence(this IServiceCollection services, Action<PersistentStateOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new PersistentStateOptions();
        configure?.Invoke(options);
        if (configure is not null)
        {
            // An explicit configuration wins over the defaults a provider registration may have added earlier.
            services.RemoveAll<PersistentStateOptions>();
        }

        services.TryAddSingleton(options);
        services.TryAddSingleton<IPersistentStateFactory, PersistentStateFactory>();
        return services;
    }

    /// <summary>
    /// Registers a storage provider under <paramref name="name"/> as a keyed singleton <see cref="IGrainStorage"/>;
    /// the container disposes it (flushing pending writes) when it is disposed.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">Provider name as used in <c>[PersistentState(stateName, storageName)]</c>.</param>
    /// <param name="create">Builds the provider on first use.</param>
    public static IServiceCollection AddGrainStorage(this IServiceCollection services, string name, Func<IServiceProvider, IGrainStorage> create)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(create);
        if (services.Any(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, name)))
            throw new InvalidOperationException($"A grain storage provider named '{name}' is already registered.");

        services.AddKeyedSingleton<IGrainStorage>(name, (sp, _) => create(sp));
        return services.AddGrainStatePersistence();
    }

    /// <summary>Registers an in-memory provider (<see cref="MemoryGrainStorage"/>) under <paramref name="name"/>; for tests.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">Provider name; <see cref="GrainStorageNames.Default"/> unless given.</param>
    public static IServiceCollection AddMemoryGrainStorage(this IServiceCollection services, string name = GrainStorageNames.Default)
        => services.AddGrainStorage(name, _ => new MemoryGrainStorage());
}
