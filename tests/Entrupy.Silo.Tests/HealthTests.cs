using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Entrupy.Silo.Tests;

public sealed class HealthTests : IDisposable
{
    private readonly string dataDir = Path.Combine(Path.GetTempPath(), "entrupy-silo-test-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(dataDir)) Directory.Delete(dataDir, recursive: true);
    }

    [Fact]
    public async Task HealthReportsEveryNativeEngineWithItsVersionAndTheEmbeddedStore()
    {
        var dbPath = Path.Combine(dataDir, "silo.db");
        await using var silo = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), $"--Storage:Sqlite:Path={dbPath}");
        using var http = new HttpClient { BaseAddress = silo.BaseAddress };

        using var response = await http.GetAsync("/health");
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("ok", json.RootElement.GetProperty("status").GetString());
        var engines = json.RootElement.GetProperty("engines");
        Assert.StartsWith("1.7.", engines.GetProperty("faiss").GetProperty("version").GetString());
        Assert.StartsWith("1.32.", engines.GetProperty("onnxruntime").GetProperty("version").GetString());
        var decoders = engines.GetProperty("image_decoders").GetProperty("version").GetString();
        Assert.Contains("jpeg", decoders, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("png", decoders, StringComparison.OrdinalIgnoreCase);

        var storage = json.RootElement.GetProperty("storage");
        Assert.Equal("sqlite", storage.GetProperty("provider").GetString());
        Assert.True(storage.GetProperty("reachable").GetBoolean(), body);
        Assert.True(File.Exists(dbPath), "the embedded store's file was not created at the configured path");
    }

    [Fact]
    public async Task AnInvalidShardCountStopsTheSiloWithTheKeyToFix()
    {
        var (exitCode, stderr) = await RunUntilExitAsync("--Storage:Provider=memory", "--Registry:ShardCount=0");
        Assert.Equal(2, exitCode);
        Assert.Contains("ShardCount", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Inference:MaxBatchSize=99", "MaxBatchSize")]
    [InlineData("--Inference:Batching=Sideways", "Sideways")]
    public async Task ABadInferenceSettingStopsTheSiloWithTheKeyToFix(string setting, string named)
    {
        var (exitCode, stderr) = await RunUntilExitAsync("--Storage:Provider=memory", setting);
        Assert.Equal(2, exitCode);
        Assert.Contains("Inference:", stderr, StringComparison.Ordinal);
        Assert.Contains(named, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task AnUnknownStorageProviderStopsTheSiloWithTheKeyToFix()
    {
        var (exitCode, stderr) = await RunUntilExitAsync("--Storage:Provider=floppy");
        Assert.Equal(2, exitCode);
        Assert.Contains("Storage:Provider", stderr);
        Assert.Contains("sqlite", stderr);
        Assert.DoesNotContain("   at ", stderr); // no stack trace for a configuration mistake
    }

    /// <summary>Runs the silo with <paramref name="settings"/> until it exits (a minute at most).</summary>
    private static async Task<(int ExitCode, string Stderr)> RunUntilExitAsync(params string[] settings)
    {
        using var process = Process.Start(SiloProcess.StartInfo(["--urls", "http://127.0.0.1:0", .. settings]))!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stderr);
    }
}
