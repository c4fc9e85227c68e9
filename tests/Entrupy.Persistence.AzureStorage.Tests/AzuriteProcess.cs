using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Entrupy.Persistence.AzureStorage.Tests;

/// <summary>
/// A real Azurite emulator run through azurite/start.sh and azurite/stop.sh (the scripts a developer uses), on free
/// ports with its own data folder. Can be stopped and restarted on the same folder and ports.
/// </summary>
public sealed partial class AzuriteProcess : IAsyncDisposable
{
    private static readonly Lazy<string> RepoRoot = new(FindRepoRoot);
    private readonly bool _ownsLocation;

    private AzuriteProcess(string location, bool ownsLocation)
    {
        Location = location;
        _ownsLocation = ownsLocation;
    }

    /// <summary>Why Azurite cannot run here (Node.js missing), or null when it can.</summary>
    public static string? UnavailableReason { get; } = FindOnPath("node") is null
        ? "Node.js ('node') is not on PATH, so Azurite cannot run; eng/setup.sh installs it."
        : null;

    /// <summary>The data folder.</summary>
    public string Location { get; }

    /// <summary>Connection string printed by start.sh (Shared Key, devstoreaccount1).</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>Blob service port.</summary>
    public int BlobPort { get; private set; }

    /// <summary>Whether the emulator is running (as far as this object knows).</summary>
    public bool IsRunning { get; private set; }

    private int QueuePort { get; set; }

    private int TablePort { get; set; }

    /// <summary>Starts an emulator on free ports with a fresh temporary data folder.</summary>
    public static async Task<AzuriteProcess> StartAsync()
    {
        if (UnavailableReason is not null) throw new InvalidOperationException(UnavailableReason);
        var location = Path.Combine(Path.GetTempPath(), "entrupy-azurite-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(location);
        var azurite = new AzuriteProcess(location, ownsLocation: true);
        await azurite.RestartAsync();
        return azurite;
    }

    /// <summary>Starts (again) on the same data folder; the same ports as before when it ran already, else free ones.</summary>
    public async Task RestartAsync()
    {
        if (IsRunning) throw new InvalidOperationException("Azurite is already running.");
        var output = await RunScriptAsync("start.sh", "--location", Location,
            "--blob-port", BlobPort.ToString(), "--queue-port", QueuePort.ToString(), "--table-port", TablePort.ToString());
        var connectionString = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last();
        var ports = PortsPattern().Matches(connectionString).Select(m => int.Parse(m.Groups[1].Value)).ToArray();
        if (ports.Length != 3) throw new InvalidOperationException($"azurite/start.sh printed no connection string: {output}");
        (BlobPort, QueuePort, TablePort) = (ports[0], ports[1], ports[2]);
        ConnectionString = connectionString;
        IsRunning = true;
    }

    /// <summary>
    /// Waits until the emulator keeps answering on its blob port. After a SIGKILL Azurite restarts on metadata its
    /// kill cut short, and under load it has been seen to stop listening right after its start-up check passed; that
    /// is the emulator's recovery, not the provider's (which the tests are about), so a dead emulator is started once
    /// more, as a service manager would. A second death, or no answer within <paramref name="within"/>, fails with its log.
    /// </summary>
    public async Task EnsureServingAsync(TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var restarted = false;
        while (true)
        {
            if (await AnswersAsync())
            {
                await Task.Delay(200); // and still answers a moment later
                if (await AnswersAsync()) return;
            }
            if (!ProcessAlive())
            {
                if (restarted) throw new InvalidOperationException($"Azurite exited twice after a restart. Log:\n{Log()}");
                IsRunning = false;
                await RestartAsync();
                restarted = true;
                continue;
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Azurite did not answer on port {BlobPort} within {within}. Log:\n{Log()}");
            await Task.Delay(100);
        }
    }

    private async Task<bool> AnswersAsync()
    {
        using var client = new System.Net.Sockets.TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await client.ConnectAsync("127.0.0.1", BlobPort, timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    private bool ProcessAlive()
    {
        var pidFile = Path.Combine(Location, "azurite.pid");
        if (!File.Exists(pidFile)) return false;
        var stat = $"/proc/{File.ReadAllText(pidFile).Trim()}/stat";
        return File.Exists(stat) && File.ReadAllText(stat).Split(' ')[2] != "Z";
    }

    private string Log()
    {
        var log = Path.Combine(Location, "azurite.log");
        return File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(30)) : "(no log)";
    }

    /// <summary>Stops the emulator by PID (SIGTERM, so it saves its metadata, as a service manager would stop it).</summary>
    public async Task StopAsync()
    {
        if (!IsRunning) return;
        await RunScriptAsync("stop.sh", "--location", Location);
        IsRunning = false;
    }

    /// <summary>Kills the emulator with SIGKILL: no shutdown, in-flight requests are cut off.</summary>
    public async Task KillAsync()
    {
        if (!IsRunning) return;
        await RunScriptAsync("stop.sh", "--location", Location, "--kill");
        IsRunning = false;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            if (_ownsLocation)
            {
                try
                {
                    Directory.Delete(Location, recursive: true);
                }
                catch (IOException)
                {
                    // A temp folder left behind is harmless.
                }
            }
        }
    }

    private static async Task<string> RunScriptAsync(string script, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(RepoRoot.Value, "azurite", script));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not run azurite/{script}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // start.sh installs Azurite first when needed (npm ci, about a minute on a cold machine).
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"azurite/{script} failed with exit code {process.ExitCode}: {await stderr}");
        return await stdout;
    }

    private static string? FindOnPath(string program)
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    private static string FindRepoRoot() => Entrupy.TestSupport.RepositoryRoot.Path;

    [GeneratedRegex(@"Endpoint=http://127\.0\.0\.1:(\d+)/")]
    private static partial Regex PortsPattern();
}

/// <summary>A fact that needs Azurite: skipped, with the reason, only when Node.js is missing.</summary>
public sealed class AzuriteFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when Azurite cannot run here.</summary>
    public AzuriteFactAttribute()
    {
        if (AzuriteProcess.UnavailableReason is { } reason) Skip = reason;
    }
}
