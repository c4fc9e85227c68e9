using Azure.Core;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Entrupy.Persistence.AzureStorage;

/// <summary>Registers Orleans' Azure Blob grain storage for our grains (Azurite locally).</summary>
public static class AzureBlobGrainStorageHostingExtensions
{
    /// <summary>
    /// The Blob service API version every client of ours speaks: the newest the pinned Azurite (azurite/package.json)
    /// serves. Azure.Storage.Blobs 12.30.1 defaults to 2026-10-06, which Azurite 3.37 refuses with 400
    /// InvalidHeaderValue, so the silo could not even create its container locally; Azure serves older versions too.
    /// </summary>
    public const BlobClientOptions.ServiceVersion BlobServiceVersion = BlobClientOptions.ServiceVersion.V2026_06_06;

    /// <summary>Environment variable read when configuration holds no connection string.</summary>
    public const string ConnectionStringEnvironmentVariable = "AZURE_STORAGE_CONNECTION_STRING";

    /// <summary>
    /// Registers Orleans' Azure Blob grain storage as the default provider: one blob per grain state and per raw record,
    /// in <paramref name="container"/>, ETag-guarded by the blob service itself. Clearing deletes the blob (Orleans'
    /// default keeps an empty one, which would leave every covered journal record behind).
    /// </summary>
    /// <param name="silo">The silo.</param>
    /// <param name="connectionString">Shared Key connection string, or <c>UseDevelopmentStorage=true</c> for Azurite.</param>
    /// <param name="container">Blob container; created when the silo starts.</param>
    /// <param name="clientOptions">Azure SDK client options (retries and timeouts), e.g. from <see cref="ClientOptionsFrom"/>;
    /// null means the SDK's retry defaults with <see cref="BlobServiceVersion"/>.</param>
    /// <exception cref="ArgumentException">The connection string is malformed.</exception>
    public static ISiloBuilder AddAzureBlobGrainStorageAsDefault(this ISiloBuilder silo, string connectionString, string container, BlobClientOptions? clientOptions = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        BlobServiceClient client;
        try { client = new BlobServiceClient(connectionString, clientOptions ?? new BlobClientOptions(BlobServiceVersion)); }
        catch (FormatException e) { throw new ArgumentException($"The Azure Storage connection string is malformed: {e.Message}", nameof(connectionString), e); }
        return silo.AddAzureBlobGrainStorageAsDefault(options =>
        {
            options.BlobServiceClient = client;
            options.ContainerName = container;
            options.DeleteStateOnClear = true;
        });
    }

    /// <summary>
    /// The connection string to use: <c>Storage:Azure:ConnectionString</c>, else <c>ConnectionStrings:AzureStorage</c>,
    /// else the <see cref="ConnectionStringEnvironmentVariable"/> environment variable; null when none is set.
    /// </summary>
    public static string? ResolveConnectionString(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
        return NonEmpty(configuration["Storage:Azure:ConnectionString"])
               ?? NonEmpty(configuration.GetConnectionString("AzureStorage"))
               ?? NonEmpty(Environment.GetEnvironmentVariable(ConnectionStringEnvironmentVariable));
    }

    /// <summary>
    /// Azure SDK retry settings from a configuration section, so a store that does not answer fails a request within
    /// seconds, not minutes: <c>MaxAttempts</c> (default 4), <c>AttemptTimeout</c> (default 10 s),
    /// <c>RetryBaseDelay</c> (default 0.2 s; exponential, at most 2 s). The API version is <see cref="BlobServiceVersion"/>.
    /// </summary>
    public static BlobClientOptions ClientOptionsFrom(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var options = new BlobClientOptions(BlobServiceVersion);
        options.Retry.MaxRetries = Math.Max(0, (section.GetValue<int?>("MaxAttempts") ?? 4) - 1);
        options.Retry.NetworkTimeout = section.GetValue<TimeSpan?>("AttemptTimeout") ?? TimeSpan.FromSeconds(10);
        options.Retry.Delay = section.GetValue<TimeSpan?>("RetryBaseDelay") ?? TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.Mode = RetryMode.Exponential;
        return options;
    }
}
