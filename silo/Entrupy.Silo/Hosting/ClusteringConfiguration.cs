using System.Net;
using System.Net.Sockets;

namespace Entrupy.Silo.Hosting;

/// <summary>How this silo finds the others. Today: one silo, clustered with itself on the loopback interface.</summary>
public static class ClusteringConfiguration
{
    /// <summary>
    /// Localhost clustering (Orleans' development membership, one silo): <c>Orleans:ClusterId</c> and
    /// <c>Orleans:ServiceId</c> (default <c>entrupy</c>), <c>Orleans:SiloPort</c> (default: a free port, so several silos of
    /// tests or benchmarks can run side by side) and <c>Orleans:GatewayPort</c> (default 0: no gateway, since the HTTP API
    /// runs in the silo and no external Orleans client connects).
    /// </summary>
    /// <exception cref="InvalidOperationException">A port is out of range.</exception>
    public static ISiloBuilder ConfigureSiloClustering(this ISiloBuilder silo, IConfiguration configuration)
    {
        var section = configuration.GetSection("Orleans");
        var siloPort = section.GetValue<int?>("SiloPort") ?? 0;
        var gatewayPort = section.GetValue<int?>("GatewayPort") ?? 0;
        if (siloPort is < 0 or > 65535) throw new InvalidOperationException($"Orleans:SiloPort is {siloPort}; it must be 0 (pick a free port) to 65535.");
        if (gatewayPort is < 0 or > 65535) throw new InvalidOperationException($"Orleans:GatewayPort is {gatewayPort}; it must be 0 (no gateway) to 65535.");
        var clusterId = section["ClusterId"] ?? "entrupy";
        var serviceId = section["ServiceId"] ?? "entrupy";
        return silo.UseLocalhostClustering(siloPort == 0 ? FreeLoopbackPort() : siloPort, gatewayPort, serviceId: serviceId, clusterId: clusterId);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
