using System.Net;
using System.Net.Sockets;
using Entrupy.Grains.Persistence;
using Entrupy.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Silo.Tests;

/// <summary>The silo's Storage:Azure section reaches the provider's retry settings (no Azurite needed: a closed port).</summary>
public sealed class AzureStorageConfigurationTests
{
    private const string DevelopmentKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    [Fact]
    public async Task Retry_settings_under_storage_azure_are_applied_to_the_provider()
    {
        var port = ClosedPort();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "azure",
            ["Storage:Azure:ConnectionString"] = $"AccountName=devstoreaccount1;AccountKey={DevelopmentKey};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1",
            ["Storage:Azure:Container"] = "configured",
            ["Storage:Azure:MaxAttempts"] = "2",
            ["Storage:Azure:RetryBaseDelay"] = "00:00:00.010",
            ["Storage:Azure:RetryBudget"] = "00:00:03",
        }).Build();
        var services = new ServiceCollection();

        var selection = services.AddConfiguredGrainStorage(configuration);
        await using var provider = services.BuildServiceProvider();
        var storage = provider.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default);

        Assert.Equal(("azure", "configured"), (selection.Provider, selection.Location));
        var error = await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.ReadAsync(new GrainStateKey("t", "k", "s")));
        Assert.Contains("failed 2 times", error.Message, StringComparison.Ordinal);       // default would be 3
        Assert.Contains("retry budget 3 s", error.Message, StringComparison.Ordinal);     // default would be 6 s
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
