using System.Net;
using System.Net.Sockets;
using Entrupy.Registry;
using Entrupy.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace Entrupy.Bench.Hosting;

/// <summary>
/// One Orleans silo in this process (localhost clustering on free loopback ports), set up as every silo of ours is:
/// the JSON contract codec and our grain-state serializer. Grain calls from <see cref="GrainFactory"/> are made from
/// outside any grain, like the silo's HTTP endpoints make them.
/// </summary>
public sealed class BenchSilo : IAsyncDisposable
{
    private const string ServiceId = "entrupy-bench";
    private readonly IHost host;
    private readonly string clusterId;

    private BenchSilo(IHost host, string clusterId, int gatewayPort)
    {
        this.host = host;
        this.clusterId = clusterId;
        GatewayPort = gatewayPort;
    }

    /// <summary>The silo's services (storage providers, grain factory, the inference grains' queue).</summary>
    public IServiceProvider Services => host.Services;

    /// <summary>The silo's grain factory.</summary>
    public IGrainFactory GrainFactory => host.Services.GetRequiredService<IGrainFactory>();

    /// <summary>The gateway port clients connect to; 0 without a gateway.</summary>
    public int GatewayPort { get; }

    /// <summary>Starts a silo; <paramref name="configure"/> adds grains' services and storage providers.</summary>
    /// <param name="configure">Further silo set-up.</param>
    /// <param name="gateway">Open a client gateway (for <see cref="ConnectClientAsync"/>).</param>
    public static async Task<BenchSilo> StartAsync(Action<ISiloBuilder>? configure = null, bool gateway = false)
    {
        var clusterId = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var siloPort = FreeLoopbackPort();
        var gatewayPort = gateway ? FreeLoopbackPort() : 0;
        var host = Host.CreateDefaultBuilder()
            .ConfigureLogging(ToStandardError)
            .UseOrleans(silo =>
            {
                silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: ServiceId, clusterId: clusterId);
                silo.Services.AddContractSerialization();
                silo.AddEntrupyStorageConventions(); // as every silo of ours
                configure?.Invoke(silo);
            })
            .Build();
        await host.StartAsync();
        return new BenchSilo(host, clusterId, gatewayPort);
    }

    /// <summary>
    /// A client in its own host, connected through the gateway: its calls cross a socket, so every argument is
    /// serialized and deserialized, as between silos of a cluster.
    /// </summary>
    public async Task<BenchClient> ConnectClientAsync()
    {
        if (GatewayPort == 0) throw new InvalidOperationException("this silo was started without a gateway");
        var client = Host.CreateDefaultBuilder()
            .ConfigureLogging(ToStandardError)
            .UseOrleansClient(c =>
            {
                c.UseLocalhostClustering(GatewayPort, serviceId: ServiceId, clusterId: clusterId);
                c.Services.AddContractSerialization();
            })
            .Build();
        await client.StartAsync();
        return new BenchClient(client);
    }

    /// <summary>Stops the silo (committing queued storage writes) and disposes it.</summary>
    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        if (host is IAsyncDisposable asyncDisposable) await asyncDisposable.DisposeAsync();
        else host.Dispose();
    }

    /// <summary>Warnings and errors go to stderr with the progress lines: stdout carries only the figures.</summary>
    private static void ToStandardError(ILoggingBuilder logging) =>
        logging.ClearProviders()
            .SetMinimumLevel(LogLevel.Warning)
            .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);

    /// <summary>The Orleans release (e.g. 10.4.2), not the assembly version (10.0.0.0).</summary>
    public static string OrleansVersion =>
        (typeof(IGrainFactory).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "?").Split('+', ' ')[0].TrimEnd('.');

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>An Orleans client host connected to a <see cref="BenchSilo"/>'s gateway.</summary>
public sealed class BenchClient(IHost host) : IAsyncDisposable
{
    /// <summary>The client's grain factory.</summary>
    public IGrainFactory GrainFactory => host.Services.GetRequiredService<IClusterClient>();

    /// <summary>Disconnects and disposes the client.</summary>
    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        host.Dispose();
    }
}
