using System.Diagnostics;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Silo.Health;

/// <summary>Asks the grain store a cheap question so /health shows whether it answers.</summary>
public static class StorageProbe
{
    private static readonly RecordKey ProbeKey = new("silo", "health", "probe");

    /// <summary>Reads a record that normally does not exist; returns the error text, if any, and the latency.</summary>
    public static async Task<(string? Error, double LatencyMs)> ProbeAsync(RecordStore storage, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await storage.ReadAsync(ProbeKey, timeout.Token);
            return (null, Math.Round(sw.Elapsed.TotalMilliseconds, 2));
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return ($"{e.GetType().Name}: {e.Message}", Math.Round(sw.Elapsed.TotalMilliseconds, 2));
        }
    }
}
