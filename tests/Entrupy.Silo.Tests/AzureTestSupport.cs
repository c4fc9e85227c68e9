using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Entrupy.Silo.Tests;

/// <summary>
/// A real Azurite run through azurite/start.sh and azurite/stop.sh on free ports with its own temporary data folder;
/// it can be stopped and started again on the same folder and ports (an outage, not a new account).
/// </summary>
public sealed partial class AzuriteEmulator : IAsyncDisposable
{
    private AzuriteEmulator(string location) => Location = location;

    /// <summary>Why Azurite cannot run here (no Node.js), or null.</summary>
    public static string? UnavailableReason { get; } =
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, "node")))
            ? null
            : "Node.js ('node') is not on PATH, so Azurite cannot run; eng/setup.sh installs it.";

    /// <summary>The data folder, kept across restarts.</summary>
    public string Location { get; }

    /// <summary>The connection string start.sh printed.</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>Whether it runs, as far as this object knows.</summary>
    public bool IsRunning { get; private set; }

    private int[] Ports { get; set; } = [0, 0, 0];

    /// <summary>Starts an emulator on free ports with a fresh data folder.</summary>
    public static async Task<AzuriteEmulator> StartAsync()
    {
        if (UnavailableReason is not null) throw new InvalidOperationException(UnavailableReason);
        var location = Path.Combine(Path.GetTempPath(), "entrupy-silo-azurite-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(location);
        var emulator = new AzuriteEmulator(location);
        // Port 0 for all three: never the developer's own Azurite on 10000-10002.
        await emulator.RestartAsync();
        return emulator;
    }

    /// <summary>Starts again on the same folder and the same ports.</summary>
    public async Task RestartAsync()
    {
        var output = await RunScriptAsync("start.sh", "--location", Location,
            "--blob-port", Ports[0].ToString(), "--queue-port", Ports[1].ToString(), "--table-port", Ports[2].ToString());
        ConnectionString = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last();
        var ports = PortPattern().Matches(ConnectionString).Select(m => int.Parse(m.Groups[1].Value)).ToArray();
        if (ports.Length != 3) throw new InvalidOperationException("azurite/start.sh printed no connection string: " + output);
        Ports = ports;
        IsRunning = true;
    }

    /// <summary>SIGTERM, as a service manager stops it: Azurite saves its metadata and exits.</summary>
    public async Task StopAsync()
    {
        if (!IsRunning) return;
        await RunScriptAsync("stop.sh", "--location", Location);
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
            try { Directory.Delete(Location, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The repository root.</summary>
    public static string RepoRoot() => Entrupy.TestSupport.RepositoryRoot.Path;

    private static async Task<string> RunScriptAsync(string script, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(RepoRoot(), "azurite", script));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not run azurite/" + script);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3)); // start.sh may npm-install first
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0) throw new InvalidOperationException($"azurite/{script} exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }

    [GeneratedRegex(@"Endpoint=http://127\.0\.0\.1:(\d+)/")]
    private static partial Regex PortPattern();
}

/// <summary>A fact that needs Azurite: skipped, with the reason, only when Node.js is missing.</summary>
public sealed class AzuriteFactAttribute : FactAttribute
{
    /// <summary>Sets the skip reason when Azurite cannot run.</summary>
    public AzuriteFactAttribute()
    {
        if (AzuriteEmulator.UnavailableReason is { } reason) Skip = reason;
    }
}

/// <summary>Silo arguments and HTTP helpers for the tests that run a silo on Azure storage.</summary>
public static class AzureSilo
{
    /// <summary>Command line of a silo on <paramref name="connectionString"/>, with limits that do not get in a batch's way.</summary>
    public static string[] Arguments(string connectionString, TimeSpan attemptTimeout, params string[] extra) =>
    [
        "--Storage:Provider=azure",
        $"--Storage:Azure:ConnectionString={connectionString}",
        $"--Storage:Azure:AttemptTimeout={attemptTimeout:c}",
        $"--Admin:BootstrapKey={ApiSilo.AdminKey}",
        "--RateLimits:TokenLimit=100000", "--RateLimits:TokensPerPeriod=100000", "--RateLimits:ReplenishmentPeriod=00:00:01",
        "--Webhooks:PollInterval=00:00:00.100", "--Webhooks:BaseDelay=00:00:00.300", "--Webhooks:MaxDelay=00:00:01",
        "--Webhooks:MaxAttempts=50", "--Webhooks:RequestTimeout=00:00:02",
        "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
        .. extra,
    ];

    /// <summary>The dev set's gallery captures (one per item), in file order.</summary>
    public static string[] GalleryImages() =>
        [.. File.ReadAllLines(Path.Combine(DevSet, "gallery.csv")).Skip(1).Select(l => Path.Combine(DevSet, l.Split(',')[1]))];

    /// <summary>The dev set's probes as (image path, item id of the gallery row it shows).</summary>
    public static (string Image, string ItemId)[] Probes() =>
        [.. File.ReadAllLines(Path.Combine(DevSet, "probes.csv")).Skip(1).Select(l => l.Split(','))
            .Where(p => p[2].Length > 0).Select(p => (Path.Combine(DevSet, p[1]), p[2]))];

    private static string DevSet => Path.Combine(AzuriteEmulator.RepoRoot(), "models", "fingerprint", "devset");

    /// <summary>A multipart registration or probe body: the image as an <c>image</c> part, plus an optional metadata part.</summary>
    public static MultipartFormDataContent Captures(string imagePath, object? metadata = null)
    {
        // A fixed boundary, so a retry sends the very same bytes: the silo hashes the exact body, and after an
        // outcome-unknown write (stored, but answered 503) a retry with a new random boundary is rightly a 422.
        var form = new MultipartFormDataContent("entrupy-test-boundary-" + Path.GetFileNameWithoutExtension(imagePath));
        var image = new ByteArrayContent(File.ReadAllBytes(imagePath));
        image.Headers.ContentType = new MediaTypeHeaderValue(imagePath.EndsWith(".png", StringComparison.Ordinal) ? "image/png" : "image/jpeg");
        form.Add(image, "image", Path.GetFileName(imagePath));
        if (metadata is not null)
        {
            var json = new StringContent(JsonSerializer.Serialize(metadata));
            json.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            form.Add(json, "metadata", "metadata.json");
        }
        return form;
    }

    /// <summary>POSTs a multipart body with an Idempotency-Key.</summary>
    public static Task<HttpResponseMessage> PostCapturesAsync(this HttpClient client, string path, string imagePath, string idempotencyKey, object? metadata = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Captures(imagePath, metadata) };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return client.SendAsync(request);
    }

    /// <summary>Polls until <paramref name="condition"/> holds or fails after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout) Assert.Fail($"timed out after {timeout} waiting for {what}");
            await Task.Delay(100);
        }
    }

    /// <summary>GET /health: (status code, storage reachable).</summary>
    public static async Task<(HttpStatusCode Status, bool StorageReachable)> HealthAsync(this HttpClient client)
    {
        using var response = await client.GetAsync("/health");
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return (response.StatusCode, body.GetProperty("storage").GetProperty("reachable").GetBoolean());
    }
}
