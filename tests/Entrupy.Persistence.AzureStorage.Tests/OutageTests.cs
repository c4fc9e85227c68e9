using System.Diagnostics;
using System.Text;
using Entrupy.Storage;
using Microsoft.Extensions.Configuration;
using Orleans.Storage;
using Xunit.Abstractions;

namespace Entrupy.Persistence.AzureStorage.Tests;

/// <summary>
/// Azurite stopped in the middle of a stream of writes through Orleans' Azure Blob provider, configured with
/// <see cref="AzureBlobGrainStorageHostingExtensions.ClientOptionsFrom"/> defaults as the silo configures it: the calls
/// fail within a bounded time with a known exception type (which the API maps to 503), and after a restart on the
/// same data folder and port nothing acknowledged is lost and the same provider writes again. Own emulator, so the
/// outage touches no other test.
/// </summary>
public sealed class OutageTests(ITestOutputHelper output)
{
    private const int Keys = 8;

    /// <summary>
    /// The bound with the default retry settings: 4 attempts, 0.2 s base delay doubling to at most 2 s, so about 1.5 s
    /// of back-off when the port refuses connections (measured: see the test output). Generous for a loaded 2-core box.
    /// </summary>
    private static readonly TimeSpan FailWithin = TimeSpan.FromSeconds(10);

    private static RecordKey Key(int k) => new("outage", $"grain-{k}", "state");

    [AzuriteFact]
    public async Task Stopped_storage_fails_within_seconds_and_acknowledged_writes_survive_a_restart()
    {
        await using var azurite = await AzuriteProcess.StartAsync();
        var defaults = AzureBlobGrainStorageHostingExtensions.ClientOptionsFrom(new ConfigurationBuilder().Build());
        await using var cluster = await AzureSilo.DeployAsync(azurite.ConnectionString, "outage", defaults);
        var records = new RecordStore(cluster.Storage());

        var acknowledged = new Dictionary<RecordKey, (string Text, string ETag)>();
        var writer = Task.Run(async () =>
        {
            var failures = new List<(RecordKey Key, string Text, Exception Error, TimeSpan Took)>();
            for (var n = 0; failures.Count < 3; n++)
            {
                var key = Key(n % Keys);
                var text = $"write {n}";
                string? expected;
                lock (acknowledged) expected = acknowledged.TryGetValue(key, out var previous) ? previous.ETag : null;
                var clock = Stopwatch.StartNew();
                try
                {
                    var etag = await records.WriteAsync(key, Encoding.UTF8.GetBytes(text), expected);
                    lock (acknowledged) acknowledged[key] = (text, etag);
                }
                catch (Exception ex)
                {
                    failures.Add((key, text, ex, clock.Elapsed));
                }
            }
            return failures;
        });

        // Every key written, and updated, before the outage.
        await WaitUntilAsync(() =>
        {
            lock (acknowledged) return acknowledged.Count == Keys && acknowledged.Values.Min(a => int.Parse(a.Text["write ".Length..])) >= Keys;
        }, writer);
        await azurite.StopAsync();

        var failures = await writer.WaitAsync(TimeSpan.FromSeconds(60));
        foreach (var f in failures)
            output.WriteLine($"write failed after {f.Took.TotalMilliseconds:F0} ms: {f.Error.GetType().FullName}: {Flatten(f.Error)}");
        var readClock = Stopwatch.StartNew();
        var readError = await Assert.ThrowsAnyAsync<Exception>(() => records.ReadAsync(Key(0)));
        output.WriteLine($"read failed after {readClock.Elapsed.TotalMilliseconds:F0} ms: {readError.GetType().FullName}: {Flatten(readError)}");

        // What Orleans' Azure Blob provider lets through when the service does not answer: the Azure SDK's own
        // AggregateException ("Retry failed after N tries"), holding a RequestFailedException per attempt.
        Assert.All(failures.Select(f => f.Error).Append(readError), e =>
        {
            var aggregate = Assert.IsType<AggregateException>(e);
            Assert.All(aggregate.InnerExceptions, inner => Assert.IsType<Azure.RequestFailedException>(inner));
        });
        Assert.All(failures, f => Assert.True(f.Took < FailWithin, $"a failing write took {f.Took}"));
        Assert.True(readClock.Elapsed < FailWithin, $"the failing read took {readClock.Elapsed}");

        await azurite.RestartAsync();
        await azurite.EnsureServingAsync(TimeSpan.FromSeconds(20));

        foreach (var (key, (text, etag)) in acknowledged)
        {
            var record = await records.ReadAsync(key);
            Assert.True(record is not null, $"acknowledged write of {key} lost");
            var stored = Encoding.UTF8.GetString(record.Data.Span);
            // A write that failed may or may not have happened (an outcome unknown to the writer); anything other than
            // the last acknowledged write or such a write is a lost or invented update.
            if (stored == text) Assert.Equal(etag, record.ETag);
            else Assert.Contains(failures, f => f.Key == key && f.Text == stored);
        }

        // The same provider (its pooled connections died with the emulator) reads and writes again.
        for (var k = 0; k < Keys; k++)
        {
            var current = (await records.ReadAsync(Key(k)))?.ETag;
            var next = await records.WriteAsync(Key(k), "after restart"u8.ToArray(), current);
            Assert.NotEqual(current, next);
            var record = await records.ReadAsync(Key(k));
            Assert.Equal(next, record!.ETag);
            Assert.Equal("after restart", Encoding.UTF8.GetString(record.Data.Span));
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, Task writer)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            Assert.False(writer.IsCompleted, "the writer failed before the outage: " + writer.Exception);
            await Task.Delay(20, timeout.Token);
        }
    }

    private static string Flatten(Exception e) => e.Message.ReplaceLineEndings(" ");
}
