using Entrupy.Grains.Persistence;
using Entrupy.Grains.Persistence.AzureStorage;
using Entrupy.Grains.Persistence.Sqlite;
using Entrupy.Grains.Runtime.Persistence;

namespace Entrupy.Silo.Hosting;

/// <summary>Which grain storage the silo uses, chosen by <c>Storage:Provider</c>.</summary>
/// <param name="Provider"><c>sqlite</c> (default), <c>azure</c> or <c>memory</c>.</param>
/// <param name="Location">The SQLite file, the Azure blob endpoint's container, or null for memory.</param>
public sealed record StorageSelection(string Provider, string? Location);

/// <summary>Registers the default grain storage provider from configuration.</summary>
public static class StorageConfiguration
{
    /// <summary>The configuration keys, quoted in errors so a user can fix them.</summary>
    public const string ProviderKey = "Storage:Provider";

    /// <summary>
    /// Registers the provider named by <c>Storage:Provider</c> as the default provider.
    /// sqlite: <c>Storage:Sqlite:Path</c> (default <c>.data/entrupy.db</c> under the working directory);
    /// azure: connection string from <c>Storage:Azure:ConnectionString</c>, <c>ConnectionStrings:AzureStorage</c> or
    /// <c>AZURE_STORAGE_CONNECTION_STRING</c>, container <c>Storage:Azure:Container</c> (default <c>grainstate</c>), retry and
    /// timeout settings <c>Storage:Azure:RetryBudget</c>, <c>AttemptTimeout</c>, <c>MaxAttempts</c>, ... (AzureBlobStorageOptions).
    /// </summary>
    /// <exception cref="InvalidOperationException">An unknown provider or a missing connection string, with the key to set.</exception>
    public static StorageSelection AddConfiguredGrainStorage(this IServiceCollection services, IConfiguration configuration)
    {
        var provider = (configuration[ProviderKey] ?? "sqlite").Trim().ToLowerInvariant();
        switch (provider)
        {
            case "sqlite":
                var path = Path.GetFullPath(configuration["Storage:Sqlite:Path"] ?? Path.Combine(".data", "entrupy.db"));
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                services.AddSqliteGrainStorage(path);
                return new StorageSelection(provider, path);
            case "azure":
                var connectionString = AzureStorageServiceCollectionExtensions.ResolveAzureStorageConnectionString(configuration)
                    ?? throw new InvalidOperationException(
                        "Storage:Provider is 'azure' but no connection string is set: set Storage:Azure:ConnectionString, " +
                        "ConnectionStrings:AzureStorage or AZURE_STORAGE_CONNECTION_STRING (UseDevelopmentStorage=true for Azurite).");
                var container = configuration["Storage:Azure:Container"] ?? "grainstate";
                services.AddAzureBlobGrainStorage(GrainStorageNames.Default, connectionString, container, options =>
                {
                    // Storage:Azure:{MaxAttempts,AttemptTimeout,ConnectTimeout,RetryBaseDelay,RetryBudget}; the two
                    // resolved above win over whatever the section says.
                    configuration.GetSection("Storage:Azure").Bind(options);
                    options.ConnectionString = connectionString;
                    options.ContainerName = container;
                });
                return new StorageSelection(provider, container);
            case "memory":
                services.AddMemoryGrainStorage();
                return new StorageSelection(provider, null);
            default:
                throw new InvalidOperationException(
                    $"{ProviderKey} is '{configuration[ProviderKey]}'; it must be one of: sqlite (the default), azure, memory.");
        }
    }
}
