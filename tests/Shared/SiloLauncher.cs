using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Entrupy.TestSupport;

/// <summary>
/// Starts a silo process and waits until Kestrel reports the address it listens on. Shared (as a linked file) by the
/// test projects' SiloProcess and the benchmarks' SiloUnderTest.
/// </summary>
internal static partial class SiloLauncher
{
    /// <summary>Starts <paramref name="start"/> (output must be redirected) and returns it with its address.</summary>
    /// <param name="start">The silo command; it must pass <c>--urls http://127.0.0.1:0</c> or another 127.0.0.1 URL.</param>
    /// <param name="timeout">How long to wait for the address.</param>
    /// <param name="log">Receives every output and error line, for error messages.</param>
    /// <param name="maxLogLines">Older lines beyond this many are dropped from <paramref name="log"/>.</param>
    /// <exception cref="InvalidOperationException">The process did not start, exited, or gave no address in time (killed; the message holds its log).</exception>
    public static async Task<(Process Process, Uri Address)> StartAsync(ProcessStartInfo start, TimeSpan timeout, ConcurrentQueue<string> log,
        int maxLogLines = int.MaxValue)
    {
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the silo");
        var address = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Keep(string line)
        {
            log.Enqueue(line);
            while (log.Count > maxLogLines) log.TryDequeue(out _);
        }
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            Keep(e.Data);
            var m = ListeningOn().Match(e.Data);
            if (m.Success) address.TrySetResult(new Uri(m.Groups[1].Value));
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Keep(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var done = await Task.WhenAny(address.Task, process.WaitForExitAsync(), Task.Delay(timeout));
        if (done != address.Task)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.Dispose();
            throw new InvalidOperationException("the silo did not start:\n" + string.Join('\n', log));
        }
        return (process, await address.Task);
    }

    /// <summary>Kills the silo (and anything it started) if it still runs, waits for it and releases it.</summary>
    public static async ValueTask StopAsync(Process process)
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
