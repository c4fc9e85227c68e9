using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Entrupy.Registry;
using Entrupy.Registry.Api;

namespace Entrupy.Silo.Tests;

/// <summary>
/// The item endpoints end to end: the real silo process, a real SQLite file, real ONNX fingerprints of the committed
/// dev-set captures, HTTP on 127.0.0.1. Scenarios follow the product: factory, checkpoint, return desk.
/// </summary>
public sealed class ItemEndpointTests(ItemSilo fixture) : IClassFixture<ItemSilo>
{
    private static readonly JsonSerializerOptions Json = ApiJson.Options;

    [Fact]
    public async Task AFactoryRegistersABatchConcurrentlyAndEveryItemIsListedAndAnnounced()
    {
        var batch = await fixture.FactoryBatchAsync();
        using var client = fixture.Client(batch.Tenant.Key);

        foreach (var item in batch.Items)
        {
            Assert.True(item.Status == HttpStatusCode.Created, $"{item.Id}: {(int)item.Status} {item.Body}");
            Assert.Equal(ApiRoutes.Format(ApiRoutes.Item, item.Id), item.Location);
            var response = JsonSerializer.Deserialize<RegistrationResponse>(item.Body, Json)!;
            Assert.Equal(item.Id, response.CustomerItemId);
            Assert.Equal(1, response.Registration.Number);
            Assert.Null(response.Registration.Fingerprint); // bytes never go back over the wire
            Assert.Null(response.Superseded);
            var capture = Assert.Single(response.Captures);
            Assert.Equal(0, capture.Index);
            Assert.True(capture.Width > 0 && capture.Height > 0 && capture.Focus > 0, item.Body);
            Assert.Equal("commissioning", response.CustodyEvent?.BizStep);
            Assert.Equal(0, response.CustodyEvent?.Sequence);
            Assert.Contains("\"customer_item_id\"", item.Body, StringComparison.Ordinal); // snake_case on the wire
        }

        // The directory lists exactly the batch, in pages, with counts.
        var listed = new List<ItemSummary>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var url = "/items?limit=4" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var page = (await (await client.GetAsync(url)).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemPage>(Json)!;
            Assert.True(page.Items.Length <= 4);
            listed.AddRange(page.Items);
            cursor = page.NextCursor;
        } while (cursor is not null && ++pages < 10);
        Assert.Equal(batch.Items.Select(i => i.Id).Order(StringComparer.Ordinal), listed.Select(s => s.CustomerItemId));
        Assert.All(listed, s => Assert.Equal(1, s.CurrentRegistration));
        Assert.All(listed, s => Assert.True(s.CustodyEvents >= 1, $"{s.CustomerItemId}: {s.CustodyEvents}"));
        Assert.All(listed, s => Assert.True(s.CreatedAt >= batch.Started.AddMinutes(-1), s.CreatedAt.ToString("O")));
        await (await client.GetAsync("/items?cursor=not-a-cursor")).ProblemAsync(400, "invalid-request");
        await (await client.GetAsync("/items?limit=0")).ProblemAsync(400, "invalid-request");

        // Each registration was announced once it was durable.
        var announced = new HashSet<string>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (announced.Count < ItemSilo.FactoryItems && DateTime.UtcNow < deadline)
        {
            if (!batch.Receiver.Received.TryTake(out var delivery, TimeSpan.FromMilliseconds(500))) continue;
            using var body = JsonDocument.Parse(delivery.Text);
            Assert.Equal("registration.completed", body.RootElement.GetProperty("type").GetString());
            var data = body.RootElement.GetProperty("data");
            Assert.Equal(1, data.GetProperty("registration_number").GetInt32());
            announced.Add(data.GetProperty("customer_item_id").GetString()!);
        }
        Assert.Equal(batch.Items.Select(i => i.Id).ToHashSet(), announced);
    }

    [Fact]
    public async Task ACheckpointTraceFindsTheItemRecordsCustodyAndThenShowsItsLastEvent()
    {
        var batch = await fixture.FactoryBatchAsync();
        using var client = fixture.Client(batch.Tenant.Key);
        const int seen = 3;
        var sku = ItemSilo.Sku(seen);

        var trace = await TraceAsync(client, DevSet.Probe(seen, 1), top: 3);
        Assert.Equal(sku, trace.Match?.CustomerItemId);
        Assert.True(trace.Match!.Match && trace.Match.Score >= trace.Threshold, $"score {trace.Match.Score} < {trace.Threshold}");
        Assert.Equal(trace.Candidates[0].CustomerItemId, sku);
        Assert.True(trace.Candidates.Length is >= 1 and <= 3);
        Assert.Equal("commissioning", trace.Match.LastCustodyEvent?.BizStep);
        Assert.False(string.IsNullOrEmpty(trace.Model));
        Assert.Single(trace.Captures);

        var request = new CustodyEventRequest
        {
            EventId = "urn:uuid:" + Guid.NewGuid().ToString("D"),
            Action = EpcisAction.Observe,
            BizStep = "inspecting",
            Disposition = "in_transit",
            ReadPointId = "https://checkpoint.example.com/gates/4",
            EventTime = new DateTimeOffset(2026, 11, 21, 14, 30, 0, TimeSpan.FromHours(2)),
        };
        var recorded = (await (await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Custody, sku), Wire(request)))
            .JsonAsync(HttpStatusCode.Created)).Deserialize<CustodyEvent>(Json)!;
        Assert.Equal(request.EventId, recorded.EventId);
        Assert.Equal("+02:00", recorded.EventTimeZoneOffset);
        Assert.True(recorded.Sequence >= 1);

        var again = await TraceAsync(client, DevSet.Probe(seen, 0), top: 5);
        Assert.Equal(sku, again.Match?.CustomerItemId);
        Assert.Equal(recorded.EventId, again.Match!.LastCustodyEvent?.EventId);
        Assert.Equal(recorded.Hash, again.Match.LastCustodyEvent?.Hash);

        // The chain reads back in order and exports as EPCIS 2.0 JSON-LD.
        var page = (await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Custody, sku) + "?from=0&limit=1")).JsonAsync(HttpStatusCode.OK)).Deserialize<CustodyEventPage>(Json)!;
        Assert.Equal("commissioning", Assert.Single(page.Events).BizStep);
        Assert.Equal(1, page.NextFrom);
        var rest = (await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Custody, sku) + "?from=1")).JsonAsync(HttpStatusCode.OK)).Deserialize<CustodyEventPage>(Json)!;
        Assert.Equal(recorded.EventId, rest.Events[^1].EventId);
        Assert.Equal(page.Events[0].Hash, rest.Events[0].PreviousHash);
        Assert.Null(rest.NextFrom);
        using var epcis = await client.GetAsync(ApiRoutes.Format(ApiRoutes.CustodyEpcis, sku));
        Assert.Equal(HttpStatusCode.OK, epcis.StatusCode);
        Assert.Equal("application/ld+json", epcis.Content.Headers.ContentType?.MediaType);
        var document = JsonNode.Parse(await epcis.Content.ReadAsStringAsync())!;
        Assert.Equal("EPCISDocument", document["type"]?.GetValue<string>());
        Assert.Contains(recorded.EventId, document.ToJsonString(), StringComparison.Ordinal);

        // A malformed event is refused naming the field; nothing is appended.
        var bad = await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Custody, sku), new { biz_step = "inspecting", event_time = "yesterday" });
        var problem = await bad.ProblemAsync(400, "invalid-request");
        Assert.Equal("event_time", problem.GetProperty("field").GetString());
        var unknownStep = await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Custody, sku), new { biz_step = "teleporting", event_time = DateTimeOffset.UtcNow });
        await unknownStep.ProblemAsync(400, "invalid-request");
        var after = (await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Custody, sku))).JsonAsync(HttpStatusCode.OK)).Deserialize<CustodyEventPage>(Json)!;
        Assert.Equal(recorded.EventId, after.Events[^1].EventId);
    }

    [Fact]
    public async Task AReturnDeskCompareMatchesTheSameItemAndRejectsAnother()
    {
        var batch = await fixture.FactoryBatchAsync();
        using var client = fixture.Client(batch.Tenant.Key);
        var sku = ItemSilo.Sku(5);
        var port = Api.FreePort();
        using var receiver = new WebhookReceiver(port);
        await (await client.PostJsonAsync("/webhooks", new { url = $"http://127.0.0.1:{port}/desk", events = new[] { "comparison.completed" } }))
            .JsonAsync(HttpStatusCode.Created);

        var same = await CompareAsync(client, sku, DevSet.Probe(5, 0));
        Assert.True(same.Match, $"genuine score {same.Score} below threshold {same.Threshold}");
        Assert.Equal(sku, same.CustomerItemId);
        Assert.Equal(1, same.RegistrationNumber);
        Assert.True(same.Threshold > 0);

        var other = await CompareAsync(client, sku, DevSet.Probe(6, 0));
        Assert.False(other.Match, $"impostor score {other.Score} at or above threshold {other.Threshold}");
        Assert.True(other.Score < same.Score);
        var stranger = await CompareAsync(client, sku, DevSet.Impostor(0));
        Assert.False(stranger.Match, $"unregistered surface scored {stranger.Score}");

        using var unknown = await Multipart.Of([DevSet.Probe(5, 0)]).PostAsync(client, ApiRoutes.Format(ApiRoutes.Compare, "never-registered"));
        await unknown.ProblemAsync(404, "not-found");

        // Each completed comparison is announced with its decision; the refused one is not.
        var decisions = Enumerable.Range(0, 3).Select(_ =>
        {
            using var body = JsonDocument.Parse(receiver.WaitForOne(TimeSpan.FromSeconds(15)).Text);
            Assert.Equal("comparison.completed", body.RootElement.GetProperty("type").GetString());
            var data = body.RootElement.GetProperty("data");
            Assert.Equal(sku, data.GetProperty("customer_item_id").GetString());
            return (Score: data.GetProperty("score").GetDouble(), Match: data.GetProperty("match").GetBoolean());
        }).OrderByDescending(d => d.Score).ToArray();
        Assert.Equal([true, false, false], decisions.Select(d => d.Match));
        Assert.Equal(same.Score, decisions[0].Score, 6);
        await Task.Delay(300);
        Assert.Empty(receiver.Received);
    }

    [Fact]
    public async Task TenantsNeverSeeEachOthersItems()
    {
        var a = await fixture.FactoryBatchAsync();
        var b = await fixture.Admin.CreateTenantAsync("other-brand");
        using var bClient = fixture.Client(b.Key);
        // B uses one of A's ids for a different surface, so a leak would show up as a match on that id.
        const string sharedId = "sku-003";
        using (var registered = await Multipart.Of([DevSet.Gallery(15)]).PostAsync(bClient, ApiRoutes.Format(ApiRoutes.Registrations, sharedId)))
            await registered.JsonAsync(HttpStatusCode.Created);

        var leak = await TraceAsync(bClient, DevSet.Probe(3, 0), top: 20);
        Assert.Null(leak.Match);
        Assert.All(leak.Candidates, c => Assert.Equal(sharedId, c.CustomerItemId));
        Assert.All(leak.Candidates, c => Assert.False(c.Match));

        var own = await TraceAsync(bClient, DevSet.Probe(15, 0), top: 5);
        Assert.Equal(sharedId, own.Match?.CustomerItemId);

        // B cannot read, compare against or list A's items.
        await (await bClient.GetAsync(ApiRoutes.Format(ApiRoutes.Item, "sku-004"))).ProblemAsync(404, "not-found");
        await (await bClient.GetAsync(ApiRoutes.Format(ApiRoutes.Custody, "sku-004"))).ProblemAsync(404, "not-found");
        await (await bClient.GetAsync(ApiRoutes.Format(ApiRoutes.CustodyEpcis, "sku-004"))).ProblemAsync(404, "not-found");
        using (var compare = await Multipart.Of([DevSet.Probe(4, 0)]).PostAsync(bClient, ApiRoutes.Format(ApiRoutes.Compare, "sku-004")))
            await compare.ProblemAsync(404, "not-found");
        var bList = (await (await bClient.GetAsync("/items")).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemPage>(Json)!;
        Assert.Equal([sharedId], bList.Items.Select(i => i.CustomerItemId));

        // A's item of the same id is untouched by B's registration.
        using var aClient = fixture.Client(a.Tenant.Key);
        var aView = (await (await aClient.GetAsync(ApiRoutes.Format(ApiRoutes.Item, sharedId))).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemView>(Json)!;
        Assert.Single(aView.Lineage);
        Assert.Equal(a.Tenant.Id, aView.TenantId);
        Assert.All(aView.Lineage, r => Assert.Null(r.Fingerprint));
    }

    [Fact]
    public async Task AnIdempotentRetryOfARegistrationIsReplayedAndRegistersOnce()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("retrying-station");
        using var client = fixture.Client(tenant.Key);
        var upload = Multipart.Of([DevSet.Gallery(20)], new RegistrationMetadata { DeviceId = "station-2" });
        var key = Guid.NewGuid().ToString();
        var path = ApiRoutes.Format(ApiRoutes.Registrations, "returns-20");

        using var first = await upload.PostAsync(client, path, key);
        var firstBody = await first.Content.ReadAsStringAsync();
        Assert.True(first.StatusCode == HttpStatusCode.Created, firstBody);
        using var retry = await upload.PostAsync(client, path, key);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(firstBody, await retry.Content.ReadAsStringAsync());
        Assert.Equal(first.Headers.Location, retry.Headers.Location);

        var view = (await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Item, "returns-20"))).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemView>(Json)!;
        var entry = Assert.Single(view.Lineage);
        Assert.Equal("station-2", entry.DeviceId);
        Assert.Equal(entry.Number, view.CurrentRegistration?.Number);

        // A new key is a new registration: it supersedes the first.
        using var second = await upload.PostAsync(client, path);
        var secondResponse = (await second.JsonAsync(HttpStatusCode.Created)).Deserialize<RegistrationResponse>(Json)!;
        Assert.Equal(2, secondResponse.Registration.Number);
        Assert.Equal(1, secondResponse.Superseded);
    }

    [Fact]
    public async Task ARestartKeepsItemsCustodyAndTraceAndATamperedHistoryIsDetected()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("warehouse");
        var ids = new[] { 21, 22, 23 };
        var uploads = ids.ToDictionary(i => i, i => Multipart.Of([DevSet.Gallery(i)], new RegistrationMetadata
        {
            CustodyEvent = new CustodyEventRequest { Action = EpcisAction.Add, BizStep = "commissioning", EventTime = DateTimeOffset.UtcNow },
        }));
        var keys = ids.ToDictionary(i => i, _ => Guid.NewGuid().ToString());
        RegistrationResponse first21;
        using (var client = fixture.Client(tenant.Key))
        {
            var responses = new Dictionary<int, RegistrationResponse>();
            foreach (var i in ids)
            {
                using var response = await uploads[i].PostAsync(client, ApiRoutes.Format(ApiRoutes.Registrations, $"wh-{i}"), keys[i]);
                responses[i] = (await response.JsonAsync(HttpStatusCode.Created)).Deserialize<RegistrationResponse>(Json)!;
            }
            first21 = responses[21];
            await (await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Custody, "wh-22"),
                new { action = "OBSERVE", biz_step = "storing", event_time = DateTimeOffset.UtcNow })).JsonAsync(HttpStatusCode.Created);
        }

        // As if the silo had died between registering wh-21 and storing the idempotency record: the record is gone.
        await fixture.RestartAsync(() =>
        {
            var record = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(tenant.Id + "\n" + keys[21])));
            Assert.Equal(1, SqliteStateEditor.Delete(fixture.DbPath, "idempotency", record));
            return Task.CompletedTask;
        });
        ItemView before;
        using (var client = fixture.Client(tenant.Key))
        {
            // The retry runs again (nothing to replay) and the registry recognises the request: still one registration.
            using (var retry = await uploads[21].PostAsync(client, ApiRoutes.Format(ApiRoutes.Registrations, "wh-21"), keys[21]))
            {
                Assert.False(retry.Headers.Contains("Idempotent-Replayed"));
                var again = (await retry.JsonAsync(HttpStatusCode.Created)).Deserialize<RegistrationResponse>(Json)!;
                Assert.Equal(first21.Registration.Number, again.Registration.Number);
                Assert.Equal(first21.Registration.RegisteredAt, again.Registration.RegisteredAt);
            }
            var wh21 = (await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Item, "wh-21"))).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemView>(Json)!;
            Assert.Single(wh21.Lineage);
            Assert.Single(wh21.Custody); // the commissioning event in the metadata was not appended twice either

            before = (await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Item, "wh-22"))).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemView>(Json)!;
            Assert.Equal(["commissioning", "storing"], before.Custody.Select(e => e.BizStep));
            Assert.Single(before.Lineage);
            var trace = await TraceAsync(client, DevSet.Probe(22, 0), top: 3);
            Assert.Equal("wh-22", trace.Match?.CustomerItemId);
            Assert.Equal("storing", trace.Match!.LastCustodyEvent?.BizStep);
            var listed = (await (await client.GetAsync("/items")).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemPage>(Json)!;
            Assert.Equal(ids.Select(i => $"wh-{i}"), listed.Items.Select(s => s.CustomerItemId));
        }

        // Someone with access to the file rewrites history: the first event becomes a different business step.
        await fixture.RestartAsync(() =>
        {
            var changed = SqliteStateEditor.Edit(fixture.DbPath, "item", $"{tenant.Id}/wh-22", "item", json =>
            {
                var state = JsonNode.Parse(json)!.AsObject();
                var events = state.First(p => p.Key.Equals("custodyEvents", StringComparison.OrdinalIgnoreCase)).Value!.AsArray();
                var first = events[0]!.AsObject();
                var step = first.First(p => p.Key.Equals("bizStep", StringComparison.OrdinalIgnoreCase)).Key;
                Assert.Equal("commissioning", first[step]!.GetValue<string>());
                first[step] = "shipping";
                return state.ToJsonString();
            });
            Assert.Equal(1, changed);
            return Task.CompletedTask;
        });
        using (var client = fixture.Client(tenant.Key))
        {
            var problem = await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Item, "wh-22"))).ProblemAsync(500, "custody-chain-tampered");
            Assert.Equal(0, problem.GetProperty("sequence").GetInt32());
            Assert.Equal(before.Custody[0].EventId, problem.GetProperty("event_id").GetString());
            await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Custody, "wh-22"))).ProblemAsync(500, "custody-chain-tampered");
            var append = await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Custody, "wh-22"), new { biz_step = "shipping", event_time = DateTimeOffset.UtcNow });
            await append.ProblemAsync(500, "custody-chain-tampered");

            // The other items of the tenant are unaffected.
            var intact = (await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Item, "wh-21"))).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemView>(Json)!;
            Assert.Equal("commissioning", Assert.Single(intact.Custody).BizStep);
        }
    }

    [Fact]
    public async Task BadIdsBadImagesAndTooManyImagesAreRefusedWithTheReason()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("careless-client");
        using var client = fixture.Client(tenant.Key);

        // An id that breaks the rule: 400 quoting the rule, for reads and writes alike.
        foreach (var badId in new[] { "has space", ".hidden", new string('x', 129) })
        {
            using var post = await Multipart.Of([DevSet.Gallery(24)]).PostAsync(client, ApiRoutes.Format(ApiRoutes.Registrations, badId));
            var problem = await post.ProblemAsync(400, "invalid-id");
            Assert.Contains(ItemKey.CustomerItemIdRule, problem.GetProperty("detail").GetString());
            Assert.Equal(ItemKey.CustomerItemIdRule, problem.GetProperty("rule").GetString());
        }
        await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Item, "has space"))).ProblemAsync(400, "invalid-id");

        // One good capture and one that is not an image: 422 naming the second, and nothing is stored.
        using (var rejected = await Multipart.Of([DevSet.Gallery(24), "this is not a picture"u8.ToArray()]).PostAsync(client, ApiRoutes.Format(ApiRoutes.Registrations, "item-24")))
        {
            var problem = await rejected.ProblemAsync(422, "capture-rejected");
            var rejection = Assert.Single(problem.GetProperty("rejections").EnumerateArray());
            Assert.Equal(1, rejection.GetProperty("index").GetInt32());
            Assert.Equal("not_an_image", rejection.GetProperty("reason").GetString());
            Assert.False(string.IsNullOrWhiteSpace(rejection.GetProperty("message").GetString()));
            Assert.Contains("Image 1", problem.GetProperty("detail").GetString());
        }
        await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Item, "item-24"))).ProblemAsync(404, "not-found");
        Assert.Empty((await (await client.GetAsync("/items")).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemPage>(Json)!.Items);

        // More images than Limits:MaxImagesPerRequest (8): 413 before any is fingerprinted.
        using (var tooMany = await Multipart.Of(Enumerable.Range(0, 9).Select(i => new byte[] { (byte)i })).PostAsync(client, ApiRoutes.Trace))
        {
            var problem = await tooMany.ProblemAsync(413, "payload-too-large");
            Assert.Contains("MaxImagesPerRequest", problem.GetProperty("detail").GetString());
        }

        // Malformed metadata names the field; no images at all, a wrong part name, JSON instead of multipart, a bad top.
        using (var badMetadata = await Multipart.Of([DevSet.Gallery(24)], new { captured_at = "last tuesday" }).PostAsync(client, ApiRoutes.Format(ApiRoutes.Registrations, "item-24")))
            Assert.Equal("captured_at", (await badMetadata.ProblemAsync(400, "invalid-request")).GetProperty("field").GetString());
        using (var noImages = await Multipart.Of([], new RegistrationMetadata()).PostAsync(client, ApiRoutes.Format(ApiRoutes.Registrations, "item-24")))
            await noImages.ProblemAsync(400, "invalid-request");
        using (var wrongPart = await Multipart.Of([DevSet.Gallery(24)], imagePart: "photo").PostAsync(client, ApiRoutes.Format(ApiRoutes.Compare, "item-24")))
            Assert.Contains("photo", (await wrongPart.ProblemAsync(400, "invalid-request")).GetProperty("detail").GetString());
        await (await client.PostJsonAsync(ApiRoutes.Trace, new { image = "base64" })).ProblemAsync(415, "unsupported-media-type");
        using (var badTop = await Multipart.Of([DevSet.Gallery(24)]).PostAsync(client, ApiRoutes.Trace + "?top=99"))
            await badTop.ProblemAsync(400, "invalid-request");

        // Without an Idempotency-Key a registration is refused before anything runs.
        var noKey = new HttpRequestMessage(HttpMethod.Post, ApiRoutes.Format(ApiRoutes.Registrations, "item-24")) { Content = new StringContent("x") };
        await (await client.SendAsync(noKey)).ProblemAsync(400, "idempotency-key-missing");
    }

    [Fact]
    public async Task ATemporaryIdIsLinkedToItsPermanentIdAndThenAcceptsNoChanges()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("repair-shop");
        using var client = fixture.Client(tenant.Key);
        await (await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Custody, "session-77"),
            new { action = "ADD", biz_step = "receiving", event_time = DateTimeOffset.UtcNow })).JsonAsync(HttpStatusCode.Created);
        await (await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Custody, "perm-77"),
            new { action = "ADD", biz_step = "commissioning", event_time = DateTimeOffset.UtcNow })).JsonAsync(HttpStatusCode.Created);

        var permanent = (await (await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Link, "session-77"),
            Wire(new LinkRequest { PermanentCustomerItemId = "perm-77", Reason = "tag read at intake" }))).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemView>(Json)!;
        Assert.Equal("perm-77", permanent.CustomerItemId);
        Assert.Equal("session-77", Assert.Single(permanent.LinkedFrom).CustomerItemId);

        var temporary = (await (await client.GetAsync(ApiRoutes.Format(ApiRoutes.Item, "session-77"))).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemView>(Json)!;
        Assert.Equal("perm-77", temporary.LinkedTo?.CustomerItemId);
        var problem = await (await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Custody, "session-77"),
            new { biz_step = "shipping", event_time = DateTimeOffset.UtcNow })).ProblemAsync(409, "item-linked");
        Assert.Equal("perm-77", problem.GetProperty("linked_to").GetString());
        await (await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Link, "session-77"), Wire(new LinkRequest { PermanentCustomerItemId = "elsewhere" })))
            .ProblemAsync(409, "conflict");
        await (await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Link, "nobody-here"), Wire(new LinkRequest { PermanentCustomerItemId = "perm-77" })))
            .ProblemAsync(404, "not-found");
        var badTarget = await (await client.PostJsonAsync(ApiRoutes.Format(ApiRoutes.Link, "perm-77"), Wire(new LinkRequest { PermanentCustomerItemId = "no/slash" })))
            .ProblemAsync(400, "invalid-id");
        Assert.Equal("permanent_customer_item_id", badTarget.GetProperty("field").GetString());

        var listed = (await (await client.GetAsync("/items")).JsonAsync(HttpStatusCode.OK)).Deserialize<ItemPage>(Json)!;
        Assert.Equal(["perm-77", "session-77"], listed.Items.Select(i => i.CustomerItemId));
        Assert.All(listed.Items, i => Assert.Null(i.CurrentRegistration));

        // The routes are described in the public OpenAPI document.
        using var anonymous = Api.Client(fixture.Silo.BaseAddress);
        var paths = (await (await anonymous.GetAsync("/openapi/v1.json")).JsonAsync(HttpStatusCode.OK)).GetProperty("paths");
        foreach (var route in new[] { ApiRoutes.Registrations, ApiRoutes.Compare, ApiRoutes.Trace, ApiRoutes.Custody, ApiRoutes.CustodyEpcis, ApiRoutes.Item, ApiRoutes.Items, ApiRoutes.Link })
            Assert.True(paths.TryGetProperty(route, out _), route + " is not in the OpenAPI document");
    }

    // Wire DTOs go out as the API spells them (snake_case), not as the test client's default camelCase.
    private static JsonElement Wire<T>(T body) => JsonSerializer.SerializeToElement(body, Json);

    private static async Task<TraceResponse> TraceAsync(HttpClient client, byte[] probe, int top)
    {
        using var response = await Multipart.Of([probe]).PostAsync(client, $"{ApiRoutes.Trace}?top={top}");
        return (await response.JsonAsync(HttpStatusCode.OK)).Deserialize<TraceResponse>(Json)!;
    }

    private static async Task<CompareResponse> CompareAsync(HttpClient client, string id, byte[] probe)
    {
        using var response = await Multipart.Of([probe]).PostAsync(client, ApiRoutes.Format(ApiRoutes.Compare, id));
        var body = (await response.JsonAsync(HttpStatusCode.OK)).Deserialize<CompareResponse>(Json)!;
        // Where the time went, stage by stage, as a Server-Timing header (milliseconds; the stages fit inside the total).
        var stages = Api.ServerTiming(response);
        foreach (var stage in new[] { "form", "extract", "match", "total" })
            Assert.True(stages.ContainsKey(stage), $"Server-Timing lacks '{stage}': {string.Join(", ", stages.Keys)}");
        // A compare is a read: no idempotency record is looked up or stored, so its body is not buffered for hashing.
        Assert.False(stages.ContainsKey("idempotency") || stages.ContainsKey("receive"), string.Join(", ", stages.Keys));
        Assert.True(stages["extract"] > 0 && stages["extract"] + stages["match"] <= stages["total"], string.Join(", ", stages));
        return body;
    }
}
