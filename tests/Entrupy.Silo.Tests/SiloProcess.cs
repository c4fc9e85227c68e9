using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Entrupy.Silo.Tests;

/// <summary>Runs the real silo executable on a free 127.0.0.1 port and stops it on dispose.</summary>
public sealed partial class SiloProcess : IAsyncDisposable
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
        var process = Process.Start(StartInfo(["--urls", "http://127.0.0.1:0", .. args])) ?? throw new InvalidOperationException("could not start the silo");
        var address = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            log.Enqueue(e.Data);
            var m = ListeningOn().Match(e.Data);
            if (m.Success) address.TrySetResult(new Uri(m.Groups[1].Value));
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var done = await Task.WhenAny(address.Task, process.WaitForExitAsync(), Task.Delay(timeout));
        if (done != address.Task)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new InvalidOperationException("the silo did not start:\n" + string.Join('\n', log));
        }
        return new SiloProcess(process, await address.Task);
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
    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();
}
