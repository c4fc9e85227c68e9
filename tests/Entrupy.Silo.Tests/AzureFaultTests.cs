using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Entrupy.Webhooks;

namespace Entrupy.Silo.Tests;

/// <summary>
/// Issue #7 end to end: a real silo process with <c>Storage:Provider=azure</c> on a real Azurite, driven over HTTP.
/// Azurite is stopped in the middle of a registration batch and started again on the same data folder.
/// </summary>
public sealed class AzureFaultTests
{
    private const int Items = 12;
    private const int Workers = 3;
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);

    /// <summary>One client request's fate, as the batch driver saw it.</summary>
    private sealed record Attempt(string ItemId, int Status, string? ProblemType, string? RetryAfter, TimeSpan Took, bool DuringOutage);

    [AzuriteFact]
    public async Task Azurite_stopped_mid_batch_gives_fast_503s_and_the_batch_completes_after_a_restart_with_nothing_lost()
    {
        await using var azurite = await AzuriteEmulator.StartAsync();
        await using var silo = await SiloProcess.StartAsync(TimeSpan.FromSeconds(90), AzureSilo.Arguments(azurite.ConnectionString, AttemptTimeout));
        using var admin = Api.Client(silo.BaseAddress, ApiSilo.AdminKey);
        var tenant = await admin.CreateTenantAsync("azure-fault");
        var images = AzureSilo.GalleryImages();

        var attempts = new ConcurrentQueue<Attempt>();
        var acknowledged = new ConcurrentDictionary<string, int>(); // item → registration number in its 201
        var outage = false;
        var next = -1;
        using var stopDriving = new CancellationTokenSource(TimeSpan.FromMinutes(3));

        // The client side of a batch: each item is retried with the SAME Idempotency-Key until it is acknowledged.
        async Task DriveAsync()
        {
            for (var i = Interlocked.Increment(ref next); i < Items; i = Interlocked.Increment(ref next))
            {
                var itemId = $"fault-{i:D3}";
                var idempotencyKey = $"register-{itemId}";
                while (!stopDriving.IsCancellationRequested)
                {
                    var clock = Stopwatch.StartNew();
                    var duringOutage = Volatile.Read(ref outage);
                    using var response = await tenant.Client.PostCapturesAsync($"/items/{itemId}/registrations", images[i % images.Length],
                        idempotencyKey, new { device_id = "fault-test", operator_id = "batch" });
                    var text = await response.Content.ReadAsStringAsync();
                    clock.Stop();
                    var problemType = response.Content.Headers.ContentType?.MediaType == "application/problem+json"
                        ? JsonDocument.Parse(text).RootElement.GetProperty("type").GetString()
                        : null;
                    attempts.Enqueue(new Attempt(itemId, (int)response.StatusCode, problemType, response.Headers.RetryAfter?.ToString(), clock.Elapsed, duringOutage));
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        var registration = JsonDocument.Parse(text).RootElement.GetProperty("registration");
                        acknowledged[itemId] = registration.GetProperty("number").GetInt32();
                        break;
                    }

                    // Retryable answers only; anything else is recorded and ends this item (the asserts report it).
                    if (response.StatusCode is not (HttpStatusCode.ServiceUnavailable or HttpStatusCode.Conflict)) break;
                    await Task.Delay(200);
                }
            }
        }

        var batch = Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(DriveAsync)));

        // Let part of the batch land, then take storage away under it.
        await AzureSilo.WaitUntilAsync(() => Task.FromResult(acknowledged.Count >= 4 || batch.IsCompleted), TimeSpan.FromSeconds(90), "the first acknowledgements");
        Assert.False(batch.IsCompleted, "the batch finished before the outage: " + Describe(attempts));
        Volatile.Write(ref outage, true);
        await azurite.StopAsync();
        var acknowledgedBeforeOutage = acknowledged.Count;

        // During the outage: the silo keeps answering (fast 503s), /health says storage is unreachable.
        await AzureSilo.WaitUntilAsync(() => Task.FromResult(attempts.Count(a => a.Status == 503) >= Workers * 2),
            TimeSpan.FromSeconds(30), "503s during the outage");
        var (healthStatus, reachable) = await admin.HealthAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, healthStatus);
        Assert.False(reachable);
        Assert.True(acknowledged.Count < Items, "everything was acknowledged during the outage");

        await azurite.RestartAsync();
        Volatile.Write(ref outage, false);
        await batch.WaitAsync(TimeSpan.FromMinutes(2));

        var failed = attempts.Where(a => a.Status != 201).ToArray();
        var unavailable = failed.Where(a => a.Status == 503).ToArray();
        // Only two kinds of non-201 are acceptable: storage-unavailable, and (rarely) a retry racing its own first try.
        Assert.All(failed, a => Assert.True(
            a.ProblemType == "https://errors.entrupy.dev/storage-unavailable" || a.ProblemType == "https://errors.entrupy.dev/idempotency-in-progress",
            $"unexpected answer {a.Status} {a.ProblemType} for {a.ItemId}: " + Describe(attempts)));
        Assert.NotEmpty(unavailable);
        Assert.All(unavailable, a => Assert.Equal("5", a.RetryAfter));
        // Fail fast: the storage client gives up within its retry budget (2 s here), and a request may touch storage a
        // few times before the first failure stops it; a hang would be the 30 s grain timeout or the HTTP client's.
        var slowest = unavailable.Max(a => a.Took);
        Assert.True(slowest < TimeSpan.FromSeconds(6), $"slowest 503 took {slowest}: " + Describe(attempts));

        // The batch completed, and what was acknowledged is there exactly once.
        Assert.Equal(Items, acknowledged.Count);
        Assert.True(acknowledgedBeforeOutage >= 4);
        foreach (var (itemId, number) in acknowledged)
        {
            using var response = await tenant.Client.GetAsync($"/items/{itemId}");
            var item = await response.JsonAsync(HttpStatusCode.OK);
            var lineage = item.GetProperty("lineage").EnumerateArray().ToArray();
            Assert.True(lineage.Length == 1, $"{itemId} has {lineage.Length} lineage entries");
            Assert.Equal(number, lineage[0].GetProperty("number").GetInt32());
        }

        // ...and in the index: a trace with each item's own capture finds that item (no Upsert lost in the outage).
        for (var i = 0; i < Items; i++)
        {
            var trace = await TraceAsync(tenant.Client, images[i % images.Length]);
            Assert.True(trace.TryGetProperty("match", out var match), $"fault-{i:D3} is not in the index: {trace}");
            Assert.Equal($"fault-{i:D3}", match.GetProperty("customer_item_id").GetString());
        }

        // Still the same silo process (same address, still answering), now healthy again.
        var (afterStatus, afterReachable) = await admin.HealthAsync();
        Assert.True(afterReachable);
        Assert.NotEqual(HttpStatusCode.InternalServerError, afterStatus);
        Console.WriteLine($"azure fault test: {Items} items, {unavailable.Length} x 503 during the outage, slowest {slowest.TotalMilliseconds:0} ms, " +
                          $"median {unavailable.OrderBy(a => a.Took).ElementAt(unavailable.Length / 2).Took.TotalMilliseconds:0} ms");
    }

    [AzuriteFact]
    public async Task A_silo_on_azurite_restarts_with_its_index_and_webhook_outbox_intact()
    {
        await using var azurite = await AzuriteEmulator.StartAsync();
        var arguments = AzureSilo.Arguments(azurite.ConnectionString, TimeSpan.FromSeconds(6));
        var images = AzureSilo.GalleryImages();
        var probes = AzureSilo.Probes();
        var receiverPort = Api.FreePort(); // nothing listens yet: deliveries stay in the outbox
        const int Registered = 3;
        string tenantKey, webhookId;
        string[] eventIds;
        JsonElement traceBefore = default;
        (string Image, string ItemId) probe = default;

        await using (var first = await SiloProcess.StartAsync(TimeSpan.FromSeconds(90), arguments))
        {
            using var admin = Api.Client(first.BaseAddress, ApiSilo.AdminKey);
            var tenant = await admin.CreateTenantAsync("azure-restart");
            tenantKey = tenant.Key;
            var hook = await (await tenant.Client.PostJsonAsync("/webhooks",
                new { url = $"http://127.0.0.1:{receiverPort}/hook", events = new[] { "registration.completed" } })).JsonAsync(HttpStatusCode.Created);
            webhookId = hook.GetProperty("id").GetString()!;

            for (var i = 0; i < Registered; i++)
            {
                using var response = await tenant.Client.PostCapturesAsync($"/items/item{i:D5}/registrations", images[i], $"restart-{i}");
                await response.JsonAsync(HttpStatusCode.Created);
            }

            // A probe of a registered item that the trace matches (not every dev-set probe is an easy one).
            foreach (var candidate in probes.Where(p => string.CompareOrdinal(p.ItemId, $"item{Registered:D5}") < 0))
            {
                var trace = await TraceAsync(tenant.Client, candidate.Image);
                if (trace.TryGetProperty("match", out var match) && match.GetProperty("customer_item_id").GetString() == candidate.ItemId)
                {
                    (probe, traceBefore) = (candidate, trace);
                    break;
                }
            }
            Assert.True(probe.Image is not null, "no probe of a registered item was matched by trace before the restart");
            // Each registration's event was attempted (and failed: no receiver) at least once, so it is in the outbox.
            var log = await tenant.Client.WaitForDeliveriesAsync(webhookId, l => l.Select(a => a.GetProperty("event_id").GetString()).Distinct().Count() >= Registered,
                TimeSpan.FromSeconds(30));
            Assert.All(log, a => Assert.False(a.GetProperty("succeeded").GetBoolean()));
            eventIds = [.. log.Select(a => a.GetProperty("event_id").GetString()!).Distinct()];
        } // the silo process is killed: no graceful deactivation, no final snapshot

        using var receiver = new WebhookReceiver(receiverPort);
        await using var second = await SiloProcess.StartAsync(TimeSpan.FromSeconds(90), arguments);
        using var client = Api.Client(second.BaseAddress, tenantKey);

        // The index came back from Azure (snapshot + journal): the same probe finds the same item with the same score.
        var traceAfter = await TraceAsync(client, probe.Image);
        Assert.Equal(traceBefore.GetProperty("match").GetProperty("customer_item_id").GetString(),
            traceAfter.GetProperty("match").GetProperty("customer_item_id").GetString());
        Assert.Equal(traceBefore.GetProperty("match").GetProperty("score").GetDouble(), traceAfter.GetProperty("match").GetProperty("score").GetDouble(), 6);

        // The outbox came back from Azure: every pending event is delivered now that the receiver listens.
        var delivered = new HashSet<string>();
        var clock = Stopwatch.StartNew();
        while (!eventIds.All(delivered.Contains))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"delivered {delivered.Count} of {eventIds.Length} after the restart");
            if (receiver.Received.TryTake(out var webhook, TimeSpan.FromSeconds(1)))
                delivered.Add(webhook.Headers[WebhookSignature.EventIdHeader]);
        }
    }

    private static async Task<JsonElement> TraceAsync(HttpClient client, string image)
    {
        using var response = await client.PostCapturesAsync("/trace", image, "trace-" + Guid.NewGuid());
        return await response.JsonAsync(HttpStatusCode.OK);
    }

    private static string Describe(IEnumerable<Attempt> attempts) =>
        string.Join("; ", attempts.Select(a => $"{a.ItemId} {a.Status} {a.ProblemType?.Split('/')[^1]} {a.Took.TotalMilliseconds:0}ms{(a.DuringOutage ? " (outage)" : "")}"));
}
