using Entrupy.Fingerprinting;
using Orleans;
using Orleans.Hosting;
using Entrupy.Registry.Fingerprints;
using Entrupy.Registry.Index;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Entrupy.Registry;

/// <summary>Hosts the registry grains on a silo.</summary>
public static class RegistrySiloBuilderExtensions
{
    /// <summary>
    /// Adds what the registry grains (<see cref="ItemGrain"/>, the index shards, the fingerprint sets; Orleans finds the
    /// classes in this assembly) need on a silo: <see cref="RegistryServiceCollectionExtensions.AddItemRegistry"/>
    /// (options, the fingerprint model, <see cref="IItemRegistry"/>). The grains keep their state in the silo's default
    /// storage provider (e.g. <c>AddSqliteGrainStorageAsDefault(path)</c>), which must be registered too.
    /// </summary>
    /// <exception cref="ArgumentException">An option is malformed.</exception>
    public static ISiloBuilder AddRegistryGrains(this ISiloBuilder builder, RegistryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddItemRegistry(options);
        return builder;
    }
}

/// <summary>Registers the item registry service.</summary>
public static class RegistryServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IItemRegistry"/> and <see cref="ItemUseCases"/> (singletons; the use cases also need an
    /// <c>IWebhookPublisher</c>, which the host registers) with what they need: <paramref name="options"/> (replacing
    /// any registered before; when null, <see cref="RegistryOptions.Default"/> unless some are registered), and,
    /// unless already registered, <see cref="FingerprintModel.LoadDefault"/> (loaded on first use) and a
    /// <see cref="FingerprintMatcher"/> over it. The silo must host the registry grains
    /// (<see cref="RegistrySiloBuilderExtensions.AddRegistryGrains"/>) and provide <see cref="IGrainFactory"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An option is malformed.</exception>
    public static IServiceCollection AddItemRegistry(this IServiceCollection services, RegistryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (options is not null)
        {
            options.Validate();
            services.Replace(ServiceDescriptor.Singleton(options));
        }
        else
        {
            services.TryAddSingleton(RegistryOptions.Default);
        }

        services.TryAddSingleton(_ => FingerprintModel.LoadDefault());
        services.TryAddSingleton(sp => new FingerprintMatcher(sp.GetRequiredService<FingerprintModel>()));
        services.TryAddSingleton<TenantItemDirectory>();
        services.TryAddSingleton<ItemUseCases>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IItemRegistry>(sp => new ItemRegistry(
            sp.GetRequiredService<IGrainFactory>(),
            sp.GetRequiredService<FingerprintModel>(),
            sp.GetRequiredService<FingerprintMatcher>(),
            sp.GetRequiredService<RegistryOptions>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<ILogger<ItemRegistry>>() ?? NullLogger<ItemRegistry>.Instance));
        return services;
    }
}
