using System.Diagnostics;
using Entrupy.TestSupport;

namespace Entrupy.Silo.Tests;

/// <summary>Runs the real silo executable on a free 127.0.0.1 port and stops it on dispose.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process process;

    private SiloProcess(Process process, Uri baseAddress)
    {
        this.process = process;
        BaseAddress = baseAddress;
    }

    /// <summary>Where the silo listens.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Starts the silo and waits until Kestrel reports its address.</summary>
    /// <param name="timeout">How long to wait for the address.</param>
    /// <param name="args">Extra command-line arguments, e.g. configuration overrides like <c>--Storage:Provider=memory</c>.</param>
    public static async Task<SiloProcess> StartAsync(TimeSpan timeout, params string[] args)
    {
        var (process, address) = await SiloLauncher.StartAsync(StartInfo(["--urls", "http://127.0.0.1:0", .. args]), timeout, new());
        return new SiloProcess(process, address);
    }

    /// <summary>How to run the silo executable from the test's output folder.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Entrupy.Silo.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["Logging__Console__FormatterName"] = "simple";
        return psi;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => SiloLauncher.StopAsync(process);
}
