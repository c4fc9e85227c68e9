using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Entrupy.Registry.Api;
using Entrupy.Webhooks;

namespace Entrupy.Silo.Tests;

/// <summary>
/// Issue #5: "Webhook signatures verify, and deliveries are retried after a receiver outage" — end to end, with real
/// events (authentications decided by the model and by an expert, a custody event, a registration) sent by the real silo to a real
/// receiver on 127.0.0.1 that answers 503 during its outage.
/// </summary>
public sealed class WebhookDeliveryE2ETests(AuthenticationSilo fixture) : IClassFixture<AuthenticationSilo>
{
    [Fact]
    public async Task RealEventsAreSignedAndDeliveredOnceAfterTheReceiverOutage()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("webhook-e2e");
        using var receiver = new WebhookReceiver(Api.FreePort()) { Down = true };
        var created = await (await tenant.Client.PostJsonAsync("/webhooks", new
        {
            url = receiver.Url + "entrupy",
            events = new[] { "authentication.finished", "custody.event_added", "registration.completed" },
        })).JsonAsync(HttpStatusCode.Created);
        var webhookId = created.GetProperty("id").GetString()!;
        var secret = created.GetProperty("secret").GetString()!;

        // Events while the receiver is down: one verdict by the model, one inconclusive then decided by an expert, a custody
        // event and a registration (a real dev-set capture through the fingerprint model).
        var decided = AuthenticationSamples.Get("acme-canvas", "not_authentic");
        var (decidedLocation, _) = await tenant.Client.SubmitAcceptedAsync("e2e-bag-1", [decided.Bytes], decided.ModelId);
        var genuine = AuthenticationSamples.Get("acme-leather", "authentic");
        var counterfeit = AuthenticationSamples.Get("acme-leather", "not_authentic");
        var (reviewLocation, pending) = await tenant.Client.SubmitAcceptedAsync("e2e-bag-2", [genuine.Bytes, counterfeit.Bytes], "acme-leather");
        var reviewedId = pending.GetProperty("authentication_id").GetString()!;
        Assert.Equal("not_authentic", (await tenant.Client.WaitUntilDecidedAsync(decidedLocation, TimeSpan.FromSeconds(30))).GetProperty("status").GetString());
        Assert.Equal("needs_review", (await tenant.Client.WaitUntilDecidedAsync(reviewLocation, TimeSpan.FromSeconds(30))).GetProperty("status").GetString());
        await (await tenant.Client.PostJsonAsync(reviewLocation + "/review", new { reviewer = "expert-e2e", status = "authentic", note = "checked in hand" }))
            .JsonAsync(HttpStatusCode.OK);
        var custody = await (await tenant.Client.PostJsonAsync("/items/e2e-bag-1/custody",
            new { biz_step = "receiving", event_time = DateTimeOffset.Parse("2026-11-22T09:30:00+01:00") })).JsonAsync(HttpStatusCode.Created);
        using var registered = await Multipart.Of([DevSet.Gallery(3)], new RegistrationMetadata { DeviceId = "e2e-camera" })
            .PostAsync(tenant.Client, ApiRoutes.Format(ApiRoutes.Registrations, "e2e-bag-3"));
        await registered.JsonAsync(HttpStatusCode.Created);
        const int events = 5;

        // The outage: every delivery is tried, answered 503, logged as failed with a next attempt, and tried again.
        var failing = await tenant.Client.WaitForDeliveriesAsync(webhookId,
            log => log.GroupBy(a => a.GetProperty("delivery_id").GetString()).Count(g => g.Count() >= 2) == events, TimeSpan.FromSeconds(30));
        Assert.All(failing, a =>
        {
            Assert.False(a.GetProperty("succeeded").GetBoolean());
            Assert.Equal(503, a.GetProperty("status_code").GetInt32());
            Assert.Equal(JsonValueKind.String, a.GetProperty("next_attempt_at").ValueKind);
        });
        Assert.Empty(receiver.Received);
        Assert.True(receiver.Refused.Count >= 2 * events);

        receiver.Down = false;
        var delivered = new List<ReceivedWebhook>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (delivered.Count < events)
        {
            Assert.True(receiver.Received.TryTake(out var next, deadline - DateTime.UtcNow), $"only {delivered.Count} of {events} deliveries arrived after the outage");
            delivered.Add(next!);
        }

        var bodies = new List<JsonElement>();
        foreach (var delivery in delivered)
        {
            Assert.Equal("/entrupy", delivery.Path);
            Assert.True(WebhookSignature.Verify(secret, delivery.Headers[WebhookSignature.TimestampHeader], delivery.Body,
                delivery.Headers[WebhookSignature.SignatureHeader], TimeSpan.FromMinutes(5)), "signature does not verify: " + delivery.Text);
            var tampered = Encoding.UTF8.GetBytes(delivery.Text.Replace("\"tenant_id\"", "\"tenant_Id\"", StringComparison.Ordinal));
            Assert.False(WebhookSignature.Verify(secret, delivery.Headers[WebhookSignature.TimestampHeader], tampered,
                delivery.Headers[WebhookSignature.SignatureHeader], TimeSpan.FromMinutes(5)));
            var body = JsonDocument.Parse(delivery.Body).RootElement.Clone();
            Assert.Equal(delivery.Headers[WebhookSignature.EventIdHeader], body.GetProperty("id").GetString());
            Assert.Equal(delivery.Headers[WebhookSignature.EventKindHeader], body.GetProperty("type").GetString());
            Assert.Equal(tenant.Id, body.GetProperty("tenant_id").GetString());
            Assert.True(int.Parse(delivery.Headers["Entrupy-Delivery-Attempt"]) >= 3, "delivered without the retries: " + delivery.Headers["Entrupy-Delivery-Attempt"]);
            // Every retry sent the very bytes that were refused before.
            Assert.Contains(receiver.Refused, r => r.Body.AsSpan().SequenceEqual(delivery.Body));
            bodies.Add(body);
        }
        Assert.Equal(events, bodies.Select(b => b.GetProperty("id").GetString()).Distinct().Count());

        var authentications = bodies.Where(b => b.GetProperty("type").GetString() == "authentication.finished").Select(b => b.GetProperty("data")).ToArray();
        Assert.Equal(3, authentications.Length);
        var byModel = Assert.Single(authentications, d => d.GetProperty("customer_item_id").GetString() == "e2e-bag-1");
        Assert.Equal("not_authentic", byModel.GetProperty("authentication").GetProperty("status").GetString());
        var reviewed = authentications.Where(d => d.GetProperty("customer_item_id").GetString() == "e2e-bag-2")
            .OrderBy(d => d.GetProperty("authentication").GetProperty("updated_at").GetDateTimeOffset()).ToArray();
        Assert.Equal(["needs_review", "authentic"], reviewed.Select(d => d.GetProperty("authentication").GetProperty("status").GetString()));
        Assert.All(reviewed, d => Assert.Equal(reviewedId, d.GetProperty("authentication").GetProperty("authentication_id").GetString()));
        Assert.Equal("expert-e2e", reviewed[1].GetProperty("authentication").GetProperty("reviewer_verdict").GetProperty("reviewer").GetString());
        var custodyEvent = bodies.Single(b => b.GetProperty("type").GetString() == "custody.event_added").GetProperty("data");
        Assert.Equal("e2e-bag-1", custodyEvent.GetProperty("customer_item_id").GetString());
        Assert.Equal(custody.GetProperty("event_id").GetString(), custodyEvent.GetProperty("event").GetProperty("event_id").GetString());
        var registration = bodies.Single(b => b.GetProperty("type").GetString() == "registration.completed").GetProperty("data");
        Assert.Equal("e2e-bag-3", registration.GetProperty("customer_item_id").GetString());
        Assert.Equal(1, registration.GetProperty("registration_number").GetInt32());

        // The log tells the story of each delivery: attempts 1..n under one id, all refused with 503 but the last.
        var log = await tenant.Client.WaitForDeliveriesAsync(webhookId, l => l.Count(a => a.GetProperty("succeeded").GetBoolean()) == events, TimeSpan.FromSeconds(10));
        foreach (var attempts in log.GroupBy(a => a.GetProperty("delivery_id").GetString()))
        {
            var ordered = attempts.ToArray();
            Assert.Equal(Enumerable.Range(1, ordered.Length), ordered.Select(a => a.GetProperty("attempt").GetInt32()));
            Assert.All(ordered[..^1], a => Assert.Equal(503, a.GetProperty("status_code").GetInt32()));
            Assert.True(ordered[^1].GetProperty("succeeded").GetBoolean());
            Assert.Equal(200, ordered[^1].GetProperty("status_code").GetInt32());
            Assert.False(ordered[^1].TryGetProperty("next_attempt_at", out var next) && next.ValueKind != JsonValueKind.Null, "a delivered attempt is not rescheduled");
        }

        // Delivered once: nothing more arrives.
        await Task.Delay(1500);
        Assert.Empty(receiver.Received);
    }
}
