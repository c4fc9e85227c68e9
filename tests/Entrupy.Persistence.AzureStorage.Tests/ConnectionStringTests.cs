using Azure.Core;
using Microsoft.Extensions.Configuration;
using Orleans.Hosting;
using Microsoft.Extensions.Hosting;

namespace Entrupy.Persistence.AzureStorage.Tests;

/// <summary>Where the connection string comes from, and the SDK retry settings a silo gets.</summary>
public sealed class ConnectionStringTests
{
    private static IConfiguration Config(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Storage_Azure_ConnectionString_wins_then_ConnectionStrings_AzureStorage()
    {
        Assert.Equal("first", AzureBlobGrainStorageHostingExtensions.ResolveConnectionString(
            Config(("Storage:Azure:ConnectionString", "first"), ("ConnectionStrings:AzureStorage", "second"))));
        Assert.Equal("second", AzureBlobGrainStorageHostingExtensions.ResolveConnectionString(
            Config(("Storage:Azure:ConnectionString", "  "), ("ConnectionStrings:AzureStorage", "second"))));
    }

    [Fact]
    public void The_environment_variable_is_the_last_resort_and_nothing_set_means_null()
    {
        var name = AzureBlobGrainStorageHostingExtensions.ConnectionStringEnvironmentVariable;
        var saved = Environment.GetEnvironmentVariable(name);
        try
        {
            Environment.SetEnvironmentVariable(name, "from-env");
            Assert.Equal("from-env", AzureBlobGrainStorageHostingExtensions.ResolveConnectionString(Config()));
            Assert.Equal("config", AzureBlobGrainStorageHostingExtensions.ResolveConnectionString(Config(("ConnectionStrings:AzureStorage", "config"))));
            Environment.SetEnvironmentVariable(name, null);
            Assert.Null(AzureBlobGrainStorageHostingExtensions.ResolveConnectionString(Config(("Storage:Azure:ConnectionString", ""))));
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, saved);
        }
    }

    [Fact]
    public void ClientOptionsFrom_defaults_bound_a_failing_request_to_seconds()
    {
        var options = AzureBlobGrainStorageHostingExtensions.ClientOptionsFrom(Config());
        Assert.Equal(3, options.Retry.MaxRetries); // 4 attempts
        Assert.Equal(TimeSpan.FromSeconds(10), options.Retry.NetworkTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(200), options.Retry.Delay);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Retry.MaxDelay);
        Assert.Equal(RetryMode.Exponential, options.Retry.Mode);
        Assert.Equal(AzureBlobGrainStorageHostingExtensions.BlobServiceVersion, options.Version);
    }

    [Fact]
    public void ClientOptionsFrom_reads_the_section()
    {
        var options = AzureBlobGrainStorageHostingExtensions.ClientOptionsFrom(
            Config(("MaxAttempts", "1"), ("AttemptTimeout", "00:00:03"), ("RetryBaseDelay", "00:00:00.050")));
        Assert.Equal(0, options.Retry.MaxRetries);
        Assert.Equal(TimeSpan.FromSeconds(3), options.Retry.NetworkTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.Retry.Delay);
        // Zero or fewer attempts still means one attempt, never a negative retry count.
        Assert.Equal(0, AzureBlobGrainStorageHostingExtensions.ClientOptionsFrom(Config(("MaxAttempts", "0"))).Retry.MaxRetries);
    }

    [Fact]
    public void A_malformed_connection_string_is_rejected_when_the_silo_is_configured()
    {
        // UseOrleans runs the silo configuration at once, so the mistake surfaces before anything starts.
        var host = Host.CreateApplicationBuilder();
        var error = Assert.Throws<ArgumentException>(() =>
            host.UseOrleans(silo => silo.AddAzureBlobGrainStorageAsDefault("not a connection string", "c")));
        Assert.Contains("malformed", error.Message);
        Assert.Equal("connectionString", error.ParamName);
    }
}
