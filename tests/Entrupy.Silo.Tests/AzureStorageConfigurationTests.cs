using Entrupy.Persistence.AzureStorage;
using Entrupy.Silo.Api;
using Microsoft.Extensions.Configuration;

namespace Entrupy.Silo.Tests;

/// <summary>The silo's Storage:Azure section reaches the Azure SDK's retry settings; store failures map to 503.</summary>
public sealed class AzureStorageConfigurationTests
{
    [Fact]
    public void Retry_settings_under_storage_azure_reach_the_blob_client()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:Azure:MaxAttempts"] = "2",
            ["Storage:Azure:RetryBaseDelay"] = "00:00:00.010",
            ["Storage:Azure:AttemptTimeout"] = "00:00:03",
        }).Build();

        var options = AzureBlobGrainStorageHostingExtensions.ClientOptionsFrom(configuration.GetSection("Storage:Azure"));
        Assert.Equal(1, options.Retry.MaxRetries);                              // 2 attempts
        Assert.Equal(TimeSpan.FromMilliseconds(10), options.Retry.Delay);
        Assert.Equal(TimeSpan.FromSeconds(3), options.Retry.NetworkTimeout);

        var defaults = AzureBlobGrainStorageHostingExtensions.ClientOptionsFrom(new ConfigurationBuilder().Build());
        Assert.Equal((3, TimeSpan.FromSeconds(10)), (defaults.Retry.MaxRetries, defaults.Retry.NetworkTimeout));
    }

    [Fact]
    public void A_missing_or_malformed_connection_string_names_the_keys_to_set()
    {
        var missing = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:Provider"] = "azure" }).Build();
        if (Environment.GetEnvironmentVariable(AzureBlobGrainStorageHostingExtensions.ConnectionStringEnvironmentVariable) is null)
            Assert.Null(AzureBlobGrainStorageHostingExtensions.ResolveConnectionString(missing));
        var configured = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:AzureStorage"] = "UseDevelopmentStorage=true",
        }).Build();
        Assert.Equal("UseDevelopmentStorage=true", AzureBlobGrainStorageHostingExtensions.ResolveConnectionString(configured));
    }

    [Fact]
    public void Azure_storage_failures_map_to_503_with_retry_after()
    {
        var (kind, _) = ApiProblems.Map(new Azure.RequestFailedException(0, "Connection refused (127.0.0.1:1)"));
        Assert.Equal(503, kind.Status);
        (kind, _) = ApiProblems.Map(new Azure.RequestFailedException(503, "Server busy"));
        Assert.Equal(503, kind.Status);
        (kind, _) = ApiProblems.Map(new HttpRequestException("Connection refused"));
        Assert.Equal(503, kind.Status);
        (kind, _) = ApiProblems.Map(new Azure.RequestFailedException(403, "AuthorizationFailure"));
        Assert.Equal(500, kind.Status); // a misconfiguration, not an outage
    }
}
