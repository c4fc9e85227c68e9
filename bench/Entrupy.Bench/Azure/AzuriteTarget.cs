using System.Diagnostics;

namespace Entrupy.Bench.Azure;

/// <summary>
/// The Azure Storage a benchmark writes to: the given connection string, else a private Azurite started with
/// <c>azurite/start.sh</c> on free ports and stopped with <c>azurite/stop.sh</c> on dispose.
/// </summary>
internal sealed class AzuriteTarget : IAsyncDisposable
{
    private readonly BenchContext context;
    private readonly string? location;

    private AzuriteTarget(BenchContext context, string connectionString, string? location)
    {
        this.context = context;
        ConnectionString = connectionString;
        this.location = location;
    }

    /// <summary>The connection string to use.</summary>
    public string ConnectionString { get; }

    /// <summary>What the figures were measured against (the <c>azure_target</c> figure).</summary>
    public string Description => location is null ? "given connection string" : "Azurite 3.37.0 (azurite/start.sh, 127.0.0.1)";

    /// <summary>Uses <paramref name="connectionString"/> when given, else starts Azurite with its data under <paramref name="azuriteLocation"/>.</summary>
    public static async Task<AzuriteTarget> StartAsync(BenchContext context, string? connectionString, string azuriteLocation)
    {
        if (connectionString is not null) return new AzuriteTarget(context, connectionString, null);
        context.Progress("starting Azurite (azurite/start.sh) on free ports");
        var started = await RunScriptAsync(context, "start.sh", "--location", azuriteLocation, "--blob-port", "0", "--queue-port", "0", "--table-port", "0");
        return new AzuriteTarget(context, started, azuriteLocation);
    }

    /// <summary>Stops the Azurite this target started (nothing for a given connection string).</summary>
    public async ValueTask DisposeAsync()
    {
        if (location is not null) await RunScriptAsync(context, "stop.sh", "--location", location);
    }

    /// <summary>Runs azurite/<paramref name="script"/> and returns the last line it printed.</summary>
    private static async Task<string> RunScriptAsync(BenchContext context, string script, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, UseShellExecute = false };
        // Azure.Storage.Blobs 12.30.1 (under Orleans' Azure Blob grain storage) sends API version 2026-10-06; Azurite
        // 3.37.0 knows versions up to 2026-06-06 and rejects every request otherwise. The blob calls the provider makes
        // (put/get/delete with ETag conditions) are the same in both versions, so this Azurite skips the check.
        start.Environment["AZURITE_SKIP_API_VERSION_CHECK"] = "true";
        start.ArgumentList.Add(Path.Combine(context.RepoRoot, "azurite", script));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not run azurite/{script}");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"azurite/{script} failed with exit code {process.ExitCode} (its messages are above)");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
    }
}
