using System.Text.Json;
using Entrupy.Client.Tests.Support;
using Entrupy.Registry;
using Entrupy.Registry.Api;

namespace Entrupy.Client.Tests;

/// <summary>The client against the real silo executable (SQLite, FAISS, ONNX Runtime) with real devset captures.</summary>
public sealed class RealSiloTests(RealSilo silo) : IClassFixture<RealSilo>
{
    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Admin_sets_up_a_tenant_whose_key_works_until_revoked()
    {
        using var admin = silo.Admin();
        var tenant = await admin.CreateTenantAsync("acme-" + Guid.NewGuid().ToString("N")[..6]);
        var key = await admin.CreateApiKeyAsync(tenant.Id, "device-fleet");

        Assert.StartsWith("ten_", tenant.Id);
        Assert.Equal(tenant, await admin.GetTenantAsync(tenant.Id));
        Assert.Contains(await admin.ListTenantsAsync(), t => t.Id == tenant.Id);
        Assert.StartsWith("ek_", key.Key);
        Assert.StartsWith(key.Prefix, key.Key);
        Assert.Equal(tenant.Id, key.TenantId);
        var listed = Assert.Single(await admin.ListApiKeysAsync(tenant.Id));
        Assert.Equal(key.Id, listed.Id);
        Assert.Null(listed.Key);

        using var client = new EntrupyClient(silo.Options(key.Key));
        Assert.Empty((await client.ListItemsAsync()).Items);

        // A tenant key is not an admin.
        using var notAdmin = new EntrupyAdminClient(silo.Options(key.Key));
        var forbidden = await Assert.ThrowsAsync<EntrupyApiException>(() => notAdmin.ListTenantsAsync());
        Assert.Equal(403, forbidden.Status);

        var revoked = await admin.RevokeApiKeyAsync(tenant.Id, key.Id);
        Assert.NotNull(revoked.RevokedAt);
        var unauthorized = await Assert.ThrowsAsync<EntrupyApiException>(() => client.ListItemsAsync());
        Assert.Equal(401, unauthorized.Status);
        Assert.Equal(EntrupyProblemTypes.Unauthorized, unauthorized.Kind);
    }

    [Fact]
    public async Task Register_compare_trace_and_list_with_real_captures()
    {
        // A tenant of its own: trace searches the whole tenant, so other tests' items must not be candidates.
        using var admin = silo.Admin();
        var (_, key) = await admin.CreateTenantWithKeyAsync("fingerprints");
        using var client = new EntrupyClient(silo.Options(key.Key));

        var registered = new List<RegistrationResponse>();
        for (var item = 0; item < 3; item++)
        {
            registered.Add(await client.RegisterAsync($"bag-{item}", [Captures.Gallery(item)], new RegistrationMetadata
            {
                DeviceId = "bench-1",
                CustodyEvent = new CustodyEventRequest { Action = EpcisAction.Add, BizStep = "commissioning", EventTime = DateTimeOffset.UtcNow },
            }));
        }
        Assert.All(registered, r =>
        {
            Assert.Equal(1, r.Registration.Number);
            Assert.Null(r.Superseded);
            var quality = Assert.Single(r.Captures);
            Assert.True(quality.Width > 0 && quality.Height > 0);
            Assert.Equal("commissioning", r.CustodyEvent?.BizStep);
        });

        var same = await client.CompareAsync("bag-0", [Captures.Probe(0)]);
        Assert.True(same.Match, $"score {same.Score} < threshold {same.Threshold}");
        Assert.True(same.Score >= same.Threshold);
        Assert.Equal(1, same.RegistrationNumber);
        Assert.False(string.IsNullOrEmpty(same.Model));
        var other = await client.CompareAsync("bag-0", [Captures.Probe(1)]);
        Assert.False(other.Match, $"score {other.Score} >= threshold {other.Threshold}");
        Assert.True(other.Score < same.Score);

        var trace = await client.TraceAsync([Captures.Probe(2, 1)], top: 3);
        Assert.Equal("bag-2", trace.Match?.CustomerItemId);
        Assert.Equal("commissioning", trace.Match?.LastCustodyEvent?.BizStep);
        Assert.Equal("bag-2", trace.Candidates[0].CustomerItemId);
        var unregistered = await client.TraceAsync([Captures.Probe(3)]);
        Assert.Null(unregistered.Match);

        // Replaying the same Idempotency-Key returns the stored answer instead of registering again.
        var replayKey = new RequestOptions { IdempotencyKey = Guid.NewGuid().ToString() };
        var first = await client.RegisterAsync("bag-1", [Captures.Probe(1)], new RegistrationMetadata { SupersedeReason = "repaired" }, replayKey);
        var replay = await client.RegisterAsync("bag-1", [Captures.Probe(1)], new RegistrationMetadata { SupersedeReason = "repaired" }, replayKey);
        Assert.Equal(2, first.Registration.Number);
        Assert.Equal(1, first.Superseded);
        Assert.Equal(first.Registration.Number, replay.Registration.Number);
        var view = await client.GetItemAsync("bag-1");
        Assert.Equal(2, view.Lineage.Length);
        Assert.Equal(2, view.CurrentRegistration?.Number);

        // The same key with a different request is refused, not silently replayed.
        var conflict = await Assert.ThrowsAsync<EntrupyApiException>(() =>
            client.RegisterAsync("bag-1", [Captures.Probe(1, 1)], null, replayKey));
        Assert.Equal(EntrupyProblemTypes.IdempotencyConflict, conflict.Kind);

        var page = await client.ListItemsAsync(limit: 2);
        Assert.Equal(2, page.Items.Length);
        Assert.NotNull(page.NextCursor);
        var rest = await client.ListItemsAsync(limit: 2, cursor: page.NextCursor);
        var ids = page.Items.Concat(rest.Items).Select(i => i.CustomerItemId).Order().ToArray();
        Assert.Equal(["bag-0", "bag-1", "bag-2"], ids);
        var all = new List<ItemSummary>();
        await foreach (var item in client.GetAllItemsAsync()) all.Add(item);
        Assert.Equal(2, all.Single(i => i.CustomerItemId == "bag-1").CurrentRegistration);
    }

    [Fact]
    public async Task Concurrent_duplicates_with_one_key_register_once()
    {
        using var client = silo.Client();
        var id = Unique("wallet");
        var key = new RequestOptions { IdempotencyKey = Guid.NewGuid().ToString() };
        var metadata = new RegistrationMetadata { DeviceId = "queue-replayer" };

        // The silo runs one; the others see 409 idempotency-in-progress (retried) or the stored answer.
        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
            client.RegisterAsync(id, [Captures.Gallery(3)], metadata, key)));

        Assert.All(results, r => Assert.Equal(1, r.Registration.Number));
        Assert.Single((await client.GetItemAsync(id)).Lineage);
    }

    [Fact]
    public async Task Webhook_deliveries_verify_with_the_subscription_secret()
    {
        await using var receiver = await FaultServer.StartAsync();
        receiver.UnscriptedStatus = 200;
        using var admin = silo.Admin();
        var (_, key) = await admin.CreateTenantWithKeyAsync("webhooks");
        using var client = new EntrupyClient(silo.Options(key.Key));
        var hook = await client.CreateWebhookAsync(new Uri(receiver.BaseAddress, "hook"), [WebhookEvents.CustodyEventAdded], "tests");
        Assert.False(string.IsNullOrEmpty(hook.Secret));
        Assert.Null((await client.GetWebhookAsync(hook.Id)).Secret);
        Assert.Contains(await client.ListWebhooksAsync(), h => h.Id == hook.Id);

        var id = Unique("parcel");
        var recorded = await client.AddCustodyEventAsync(id, new CustodyEventRequest { BizStep = "shipping", EventTime = DateTimeOffset.UtcNow });
        var pingId = await client.PingWebhookAsync(hook.Id);

        var deliveries = await WaitForAsync(() => receiver.Requests.Count >= 2 ? receiver.Requests : null);
        var events = deliveries.Select(d =>
        {
            Assert.True(WebhookVerifier.Verify(hook.Secret!, d.Headers, d.Body, WebhookVerifier.DefaultTolerance), "signature did not verify");
            Assert.False(WebhookVerifier.Verify(hook.Secret!, d.Headers, [.. d.Body, (byte)' '], WebhookVerifier.DefaultTolerance));
            var parsed = WebhookEvent.Parse(d.Body);
            Assert.Equal(parsed.Id, d.Header(WebhookVerifier.EventIdHeader));
            return parsed;
        }).ToArray();
        var custody = Assert.Single(events, e => e.Type == WebhookEvents.CustodyEventAdded);
        Assert.Equal(id, custody.Data.GetProperty("customer_item_id").GetString());
        Assert.Equal(recorded.EventId, custody.Data.GetProperty("event").GetProperty("event_id").GetString());
        Assert.Contains(events, e => e.Type == WebhookEvents.Ping && e.Id == pingId);

        var attempts = await WaitForAsync(async () => (await client.ListWebhookDeliveriesAsync(hook.Id)) is { Length: >= 2 } a ? a : null);
        Assert.All(attempts, a => Assert.True(a.Succeeded));
        await client.DeleteWebhookAsync(hook.Id);
        Assert.Equal(404, (await Assert.ThrowsAsync<EntrupyApiException>(() => client.GetWebhookAsync(hook.Id))).Status);
    }

    [Fact]
    public async Task Custody_events_chain_page_and_export_as_epcis()
    {
        using var client = silo.Client();
        var id = Unique("crate");
        var start = new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.FromHours(2));
        string[] steps = ["commissioning", "shipping", "receiving"];
        var recorded = new List<CustodyEvent>();
        for (var i = 0; i < steps.Length; i++)
        {
            recorded.Add(await client.AddCustodyEventAsync(id, new CustodyEventRequest
            {
                EventId = $"urn:uuid:{Guid.NewGuid()}",
                Action = i == 0 ? EpcisAction.Add : EpcisAction.Observe,
                BizStep = steps[i],
                EventTime = start.AddHours(i),
            }));
        }
        // A repeat with the same event id (new idempotency key) returns the stored event.
        var again = await client.AddCustodyEventAsync(id, new CustodyEventRequest { EventId = recorded[1].EventId, BizStep = "shipping", EventTime = start.AddHours(1) });
        Assert.Equal(recorded[1].Sequence, again.Sequence);
        Assert.Equal(recorded[1].Hash, again.Hash);

        var firstPage = await client.ListCustodyEventsAsync(id, limit: 2);
        Assert.Equal(2, firstPage.Events.Length);
        Assert.Equal(2, firstPage.NextFrom);
        var events = new List<CustodyEvent>();
        await foreach (var e in client.GetAllCustodyEventsAsync(id)) events.Add(e);
        Assert.Equal(steps, events.Select(e => e.BizStep));
        Assert.Equal([0, 1, 2], events.Select(e => e.Sequence));
        Assert.Equal(new string('0', 64), events[0].PreviousHash);
        for (var i = 1; i < events.Count; i++) Assert.Equal(events[i - 1].Hash, events[i].PreviousHash);
        Assert.Equal("+02:00", events[0].EventTimeZoneOffset);

        var epcis = JsonDocument.Parse(await client.ExportEpcisAsync(id)).RootElement;
        var eventIds = FindArray(epcis, "eventList").Select(e => e.GetProperty("eventID").GetString()).ToArray();
        Assert.Equal(recorded.Select(e => e.EventId), eventIds);

        var item = await client.GetItemAsync(id);
        Assert.True(item.Exists);
        Assert.Equal(3, item.Custody.Length);
        Assert.Null(item.CurrentRegistration);
    }

    [Fact]
    public async Task Linking_a_temporary_id_freezes_it()
    {
        using var client = silo.Client();
        var temporary = Unique("session");
        var permanent = Unique("sku");
        await client.AddCustodyEventAsync(temporary, new CustodyEventRequest { BizStep = "inspecting", EventTime = DateTimeOffset.UtcNow });

        var linked = await client.LinkAsync(temporary, new LinkRequest { PermanentCustomerItemId = permanent, Reason = "tag attached" });

        Assert.Equal(permanent, linked.CustomerItemId);
        var from = Assert.Single(linked.LinkedFrom);
        Assert.Equal(temporary, from.CustomerItemId);
        Assert.Equal("tag attached", from.Reason);
        Assert.Equal(permanent, (await client.GetItemAsync(temporary)).LinkedTo?.CustomerItemId);
        var frozen = await Assert.ThrowsAsync<EntrupyApiException>(() =>
            client.AddCustodyEventAsync(temporary, new CustodyEventRequest { BizStep = "shipping", EventTime = DateTimeOffset.UtcNow }));
        Assert.Equal(409, frozen.Status);
        Assert.Equal(EntrupyProblemTypes.ItemLinked, frozen.Kind);
        Assert.Equal(permanent, frozen.GetExtension("linked_to"));
    }

    [Fact]
    public async Task Authentication_is_submitted_awaited_and_reviewed()
    {
        using var client = silo.Client();
        var id = Unique("tote");
        var submitted = await client.SubmitAuthenticationAsync(id, [Captures.AuthenticationSample("acme-leather-genuine-5000")],
            new AuthenticationSubmission { Model = "acme-leather", AuthenticationId = "auth-1" });
        Assert.Equal("auth-1", submitted.AuthenticationId);
        Assert.Equal("acme-leather", submitted.ModelId);

        var decided = await client.WaitForAuthenticationAsync(id, "auth-1", TimeSpan.FromSeconds(60));
        Assert.NotEqual(AuthenticationStatus.Pending, decided.Status);
        Assert.NotEqual(AuthenticationStatus.NotAuthentic, decided.Status);

        var fake = Unique("tote");
        await client.SubmitAuthenticationAsync(fake, [Captures.AuthenticationSample("acme-leather-counterfeit-5000")],
            new AuthenticationSubmission { Model = "acme-leather", AuthenticationId = "auth-2" });
        var verdict = await client.WaitForAuthenticationAsync(fake, "auth-2", TimeSpan.FromSeconds(60));
        Assert.NotEqual(AuthenticationStatus.Pending, verdict.Status);
        Assert.NotEqual(AuthenticationStatus.Authentic, verdict.Status);

        var unknownModel = await Assert.ThrowsAsync<EntrupyApiException>(() => client.SubmitAuthenticationAsync(id,
            [Captures.AuthenticationSample("acme-leather-genuine-5000")], new AuthenticationSubmission { Model = "no-such-model" }));
        Assert.Equal(400, unknownModel.Status);
        Assert.Contains("acme-leather", unknownModel.Detail);

        // Whatever went to review can be decided by an expert through the queue.
        var queue = await client.ListReviewQueueAsync(limit: 500);
        foreach (var entry in queue.Entries.Where(e => e.CustomerItemId == id || e.CustomerItemId == fake))
        {
            Assert.Equal(AuthenticationStatus.NeedsReview, entry.Authentication.Status);
            var reviewed = await client.ReviewAuthenticationAsync(entry.CustomerItemId, entry.Authentication.AuthenticationId,
                new ReviewRequest { Reviewer = "expert-1", Status = AuthenticationStatus.Authentic, Note = "stitching checked" });
            Assert.Equal(AuthenticationStatus.Authentic, reviewed.Status);
            Assert.Equal("expert-1", reviewed.ReviewerVerdict?.Reviewer);
        }
    }

    [Fact]
    public async Task Errors_from_the_real_silo_are_typed_and_not_retried()
    {
        using var client = silo.Client();

        var missing = await Assert.ThrowsAsync<EntrupyApiException>(() => client.GetItemAsync(Unique("nothing")));
        Assert.Equal(404, missing.Status);
        Assert.Equal(EntrupyProblemTypes.NotFound, missing.Kind);
        Assert.False(string.IsNullOrEmpty(missing.TraceId));

        var badId = await Assert.ThrowsAsync<EntrupyApiException>(() => client.GetItemAsync("not a valid id!"));
        Assert.Equal(400, badId.Status);
        Assert.Equal(EntrupyProblemTypes.InvalidId, badId.Kind);

        var badTop = await Assert.ThrowsAsync<EntrupyApiException>(() => client.TraceAsync([Captures.Probe(0)], top: 50));
        Assert.Equal(400, badTop.Status);
        Assert.Contains("top", badTop.Detail);

        var compareUnregistered = await Assert.ThrowsAsync<EntrupyApiException>(() => client.CompareAsync(Unique("ghost"), [Captures.Probe(0)]));
        Assert.Equal(404, compareUnregistered.Status);

        using var wrongKey = new EntrupyClient(silo.Options("ek_" + new string('x', 43)));
        var unauthorized = await Assert.ThrowsAsync<EntrupyApiException>(() => wrongKey.ListItemsAsync());
        Assert.Equal(401, unauthorized.Status);
    }

    private static Task<T> WaitForAsync<T>(Func<T?> probe) where T : class => WaitForAsync(() => Task.FromResult(probe()));

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe) where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            if (await probe() is { } value) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the condition did not come true within 20 s");
            await Task.Delay(100);
        }
    }

    private static IEnumerable<JsonElement> FindArray(JsonElement element, string name)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name == name && property.Value.ValueKind == JsonValueKind.Array) return property.Value.EnumerateArray().ToArray();
                var inner = FindArray(property.Value, name).ToArray();
                if (inner.Length > 0) return inner;
            }
        }
        return [];
    }
}
