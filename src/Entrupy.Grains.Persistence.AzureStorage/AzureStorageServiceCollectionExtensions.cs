using Entrupy.Grains.Persistence.AzureStorage;
using Entrupy.Grains.Persistence.AzureStorage.Rest;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Grains.Persistence;

/// <summary>Registers the Azure Blob Storage providers.</summary>
public static class AzureStorageServiceCollectionExtensions
{
    /// <summary>Environment variable read when configuration holds no connection string.</summary>
    public const string ConnectionStringEnvironmentVariable = "AZURE_STORAGE_CONNECTION_STRING";

    /// <summary>
    /// Registers an <see cref="AzureBlobGrainStorage"/> under <paramref name="name"/> as a keyed singleton
    /// <see cref="IGrainStorage"/> (and the runtime's persistent-state factory).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">Provider name as used in <c>[PersistentState(stateName, storageName)]</c>.</param>
    /// <param name="connectionString">Shared Key connection string, or <c>UseDevelopmentStorage=true</c> for Azurite.</param>
    /// <param name="container">Blob container for the records; created on first use.</param>
    /// <param name="configure">Optional changes to retry and timeout settings.</param>
    public static IServiceCollection AddAzureBlobGrainStorage(
        this IServiceCollection services, string name, string connectionString, string container = "grainstate",
        Action<AzureBlobStorageOptions>? configure = null)
    {
        var options = CreateOptions(connectionString, container, configure);
        return services.AddGrainStorage(name, _ => new AzureBlobGrainStorage(options));
    }

    /// <summary>
    /// Registers an <see cref="AzureBlobSnapshotStore"/> as the singleton <see cref="IBlobSnapshotStore"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="connectionString">Shared Key connection string, or <c>UseDevelopmentStorage=true</c> for Azurite.</param>
    /// <param name="container">Blob container for the snapshots; created on first use.</param>
    /// <param name="configure">Optional changes to retry and timeout settings.</param>
    public static IServiceCollection AddAzureBlobSnapshotStore(
        this IServiceCollection services, string connectionString, string container = "snapshots",
        Action<AzureBlobStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = CreateOptions(connectionString, container, configure);
        services.AddSingleton<IBlobSnapshotStore>(_ => new AzureBlobSnapshotStore(options));
        return services;
    }

    /// <summary>
    /// The connection string to use: <c>Storage:Azure:ConnectionString</c>, else <c>ConnectionStrings:AzureStorage</c>,
    /// else the <see cref="ConnectionStringEnvironmentVariable"/> environment variable; null when none is set.
    /// </summary>
    /// <param name="configuration">The application's configuration.</param>
    public static string? ResolveAzureStorageConnectionString(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
        return NonEmpty(configuration["Storage:Azure:ConnectionString"])
               ?? NonEmpty(configuration.GetConnectionString("AzureStorage"))
               ?? NonEmpty(Environment.GetEnvironmentVariable(ConnectionStringEnvironmentVariable));
    }

    private static AzureBlobStorageOptions CreateOptions(string connectionString, string container, Action<AzureBlobStorageOptions>? configure)
    {
        var options = new AzureBlobStorageOptions { ConnectionString = connectionString, ContainerName = container };
        configure?.Invoke(options);
        // Fail at registration, not at the first grain call: a bad connection string is a deployment error.
        options.Validate();
        _ = StorageConnectionString.Parse(options.ConnectionString);
        return options;
    }
}
