using Entrupy.Persistence.AzureStorage;
using Entrupy.Persistence.Sqlite;
using Entrupy.Storage;
using Orleans.Storage;

namespace Entrupy.Silo.Hosting;

/// <summary>Which grain storage the silo uses, chosen by <c>Storage:Provider</c>.</summary>
/// <param name="Provider"><c>sqlite</c> (default), <c>azure</c> or <c>memory</c>.</param>
/// <param name="Location">The SQLite file, the Azure blob container, or null for memory.</param>
public sealed record StorageSelection(string Provider, string? Location);

/// <summary>Registers the silo's default Orleans grain storage provider from configuration.</summary>
public static class StorageConfiguration
{
    /// <summary>The configuration keys, quoted in errors so a user can fix them.</summary>
    public const string ProviderKey = "Storage:Provider";

    /// <summary>
    /// Registers the provider named by <c>Storage:Provider</c> as the default provider (the state serializer comes
    /// with <see cref="StateWriteFailureFilterExtensions.AddEntrupyStorageConventions"/>).
    /// sqlite: ours, <c>Storage:Sqlite:Path</c> (default <c>.data/entrupy.db</c> under the working directory);
    /// azure: Orleans' Azure Blob grain storage (<see cref="AzureBlobGrainStorageHostingExtensions"/>), connection string from <c>Storage:Azure:ConnectionString</c>,
    /// <c>ConnectionStrings:AzureStorage</c> or <c>AZURE_STORAGE_CONNECTION_STRING</c>, container
    /// <c>Storage:Azure:Container</c> (default <c>grainstate</c>), Azure SDK retries <c>Storage:Azure:MaxAttempts</c>
    /// (default 4), <c>Storage:Azure:AttemptTimeout</c> (default 10 s) and <c>Storage:Azure:RetryBaseDelay</c> (default 0.2 s);
    /// memory: Orleans' in-memory grain storage (tests and demos: nothing survives a restart).
    /// </summary>
    /// <exception cref="InvalidOperationException">An unknown provider or a missing connection string, with the key to set.</exception>
    public static StorageSelection AddConfiguredGrainStorage(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        var provider = (configuration[ProviderKey] ?? "sqlite").Trim().ToLowerInvariant();
        switch (provider)
        {
            case "sqlite":
                var path = Path.GetFullPath(configuration["Storage:Sqlite:Path"] ?? Path.Combine(".data", "entrupy.db"));
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                services.AddSqliteGrainStorageAsDefault(path);
                return new StorageSelection(provider, path);
            case "azure":
                var connectionString = AzureBlobGrainStorageHostingExtensions.ResolveConnectionString(configuration)
                    ?? throw new InvalidOperationException(
                        "Storage:Provider is 'azure' but no connection string is set: set Storage:Azure:ConnectionString, " +
                        "ConnectionStrings:AzureStorage or AZURE_STORAGE_CONNECTION_STRING (UseDevelopmentStorage=true for Azurite).");
                var container = configuration["Storage:Azure:Container"] ?? "grainstate";
                try
                {
                    silo.AddAzureBlobGrainStorageAsDefault(connectionString, container,
                        AzureBlobGrainStorageHostingExtensions.ClientOptionsFrom(configuration.GetSection("Storage:Azure")));
                }
                catch (ArgumentException e) { throw new InvalidOperationException($"Storage:Azure: {e.Message}", e); }
                return new StorageSelection(provider, container);
            case "memory":
                silo.AddMemoryGrainStorageAsDefault();
                return new StorageSelection(provider, null);
            default:
                throw new InvalidOperationException(
                    $"{ProviderKey} is '{configuration[ProviderKey]}'; it must be one of: sqlite (the default), azure, memory.");
        }
    }
}
