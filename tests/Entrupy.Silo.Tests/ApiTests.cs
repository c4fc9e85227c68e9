using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Entrupy.Silo.Api;
using Entrupy.Webhooks;

namespace Entrupy.Silo.Tests;

/// <summary>Auth, errors, idempotency and limits against one real silo process over HTTP.</summary>
public sealed class ApiTests(ApiSilo fixture) : IClassFixture<ApiSilo>
{
    private static readonly object Subscription = new { url = "http://127.0.0.1:9/hook", events = new[] { "registration.completed" } };

    [Fact]
    public async Task MissingInvalidAndRevokedKeysAreRejectedWithAProblem()
    {
        using var anonymous = Api.Client(fixture.Silo.BaseAddress);
        var missing = await (await anonymous.GetAsync("/webhooks")).ProblemAsync(401, "unauthorized");
        Assert.Contains("Bearer", missing.GetProperty("detail").GetString());

        using var wrong = Api.Client(fixture.Silo.BaseAddress, "ek_not-a-real-key");
        await (await wrong.GetAsync("/webhooks")).ProblemAsync(401, "unauthorized");

        var tenant = await fixture.Admin.CreateTenantAsync("revoked-key-tenant");
        using var ok = await tenant.Client.GetAsync("/webhooks");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        // The same key also works through X-Api-Key.
        using var viaHeader = Api.Client(fixture.Silo.BaseAddress);
        viaHeader.DefaultRequestHeaders.Add("X-Api-Key", tenant.Key);
        Assert.Equal(HttpStatusCode.OK, (await viaHeader.GetAsync("/webhooks")).StatusCode);

        using var revoke = await fixture.Admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}");
        var revoked = await revoke.JsonAsync(HttpStatusCode.OK);
        Assert.True(revoked.TryGetProperty("revoked_at", out _));
        var problem = await (await tenant.Client.GetAsync("/webhooks")).ProblemAsync(401, "unauthorized");
        Assert.Contains("revoked", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task AdminBootstrapKeyCreatesTenantsAndKeysThatAreShownOnceAndStoredHashed()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("bootstrap-flow");

        var tenants = await (await fixture.Admin.GetAsync("/admin/tenants")).JsonAsync(HttpStatusCode.OK);
        Assert.Contains(tenants.EnumerateArray(), t => t.GetProperty("id").GetString() == tenant.Id && t.GetProperty("name").GetString() == "bootstrap-flow");

        var keys = (await (await fixture.Admin.GetAsync($"/admin/tenants/{tenant.Id}/keys")).JsonAsync(HttpStatusCode.OK)).EnumerateArray().ToArray();
        var key = Assert.Single(keys);
        Assert.Equal(tenant.KeyId, key.GetProperty("id").GetString());
        Assert.False(key.TryGetProperty("key", out _), "a listed key must not reveal the key");
        Assert.StartsWith(key.GetProperty("prefix").GetString()!, tenant.Key, StringComparison.Ordinal);
        Assert.True(tenant.Key.Length >= 40, "keys must be high-entropy");

        // The SQLite file never holds the key in clear.
        foreach (var file in Directory.GetFiles(fixture.DataDir))
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            Assert.DoesNotContain(tenant.Key, Encoding.Latin1.GetString(copy.ToArray()), StringComparison.Ordinal);
        }

        // A tenant key cannot administer; the admin key is not a tenant.
        await (await tenant.Client.PostJsonAsync("/admin/tenants", new { name = "x" })).ProblemAsync(403, "forbidden");
        await (await fixture.Admin.GetAsync("/webhooks")).ProblemAsync(403, "forbidden");
        await (await fixture.Admin.GetAsync("/admin/tenants/ten_0000000000000000")).ProblemAsync(404, "not-found");
        await (await fixture.Admin.GetAsync("/admin/tenants/not-an-id")).ProblemAsync(400, "invalid-id");
    }

    [Fact]
    public async Task OneTenantCannotSeeOrChangeAnotherTenantsSubscriptions()
    {
        var a = await fixture.Admin.CreateTenantAsync("tenant-a");
        var b = await fixture.Admin.CreateTenantAsync("tenant-b");
        var created = await (await a.Client.PostJsonAsync("/webhooks", Subscription)).JsonAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString()!;

        await (await b.Client.GetAsync($"/webhooks/{id}")).ProblemAsync(404, "not-found");
        await (await b.Client.GetAsync($"/webhooks/{id}/deliveries")).ProblemAsync(404, "not-found");
        await (await b.Client.DeleteAsync($"/webhooks/{id}")).ProblemAsync(404, "not-found");
        await (await b.Client.PostJsonAsync($"/webhooks/{id}/ping", new { })).ProblemAsync(404, "not-found");
        Assert.Empty((await (await b.Client.GetAsync("/webhooks")).JsonAsync(HttpStatusCode.OK)).EnumerateArray());

        // Still there for its owner, who can delete it.
        Assert.Equal(HttpStatusCode.OK, (await a.Client.GetAsync($"/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await a.Client.DeleteAsync($"/webhooks/{id}")).StatusCode);
        await (await a.Client.GetAsync($"/webhooks/{id}")).ProblemAsync(404, "not-found");
    }

    [Fact]
    public async Task AnIdempotentRetryReturnsTheFirstResultAndExecutesOnce()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("idempotency");
        var key = Guid.NewGuid().ToString();

        using var first = await tenant.Client.PostJsonAsync("/webhooks", Subscription, key);
        var firstBody = await first.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));

        using var retry = await tenant.Client.PostJsonAsync("/webhooks", Subscription, key);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(firstBody, await retry.Content.ReadAsStringAsync()); // same id, same once-shown secret
        Assert.Equal(first.Headers.Location, retry.Headers.Location);

        var list = await (await tenant.Client.GetAsync("/webhooks")).JsonAsync(HttpStatusCode.OK);
        Assert.Single(list.EnumerateArray());

        // Same key, different body: refused. No key at all: refused.
        var other = new { url = "http://127.0.0.1:9/other", events = new[] { "registration.completed" } };
        await (await tenant.Client.PostJsonAsync("/webhooks", other, key)).ProblemAsync(422, "idempotency-conflict");
        await (await tenant.Client.PostJsonAsync("/webhooks", other, idempotencyKey: null)).ProblemAsync(400, "idempotency-key-missing");

        // Keys are per tenant: another tenant may use the same key for its own request.
        var b = await fixture.Admin.CreateTenantAsync("idempotency-b");
        using var bResponse = await b.Client.PostJsonAsync("/webhooks", Subscription, key);
        Assert.Equal(HttpStatusCode.Created, bResponse.StatusCode);
        Assert.False(bResponse.Headers.Contains("Idempotent-Replayed"));
    }

    [Fact]
    public async Task ResponsesCarryServerTimingAndTheRuntimeCountersAreForAdminsOnly()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("timing");
        using var created = await tenant.Client.PostJsonAsync("/webhooks", Subscription);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var stages = Api.ServerTiming(created);
        Assert.True(stages.ContainsKey("idempotency") && stages.ContainsKey("total"), string.Join(", ", stages.Keys));
        Assert.True(stages["idempotency"] <= stages["total"]);
        // Errors too: a problem says how long it took to be refused.
        using var missing = await tenant.Client.GetAsync("/no-such-route");
        Assert.True(Api.ServerTiming(missing).ContainsKey("total"));

        using var first = await fixture.Admin.GetAsync("/admin/runtime");
        var before = await first.JsonAsync(HttpStatusCode.OK);
        for (var i = 0; i < 3; i++) GC.KeepAlive(await (await tenant.Client.GetAsync("/webhooks")).Content.ReadAsStringAsync());
        var after = await (await fixture.Admin.GetAsync("/admin/runtime")).JsonAsync(HttpStatusCode.OK);
        Assert.True(after.GetProperty("uptime_seconds").GetDouble() > 0);
        Assert.True(after.GetProperty("cpu_milliseconds").GetDouble() > before.GetProperty("cpu_milliseconds").GetDouble());
        Assert.Equal(Environment.ProcessorCount, after.GetProperty("cores").GetInt32());
        var gc = after.GetProperty("gc");
        Assert.Equal(3, gc.GetProperty("collections").GetArrayLength());
        Assert.True(gc.GetProperty("allocated_bytes").GetInt64() >= before.GetProperty("gc").GetProperty("allocated_bytes").GetInt64());
        Assert.True(gc.GetProperty("heap_bytes").GetInt64() > 0);
        var jit = after.GetProperty("jit"); // the test host shares the process: only monotonic and non-zero
        Assert.True(jit.GetProperty("methods").GetInt64() >= before.GetProperty("jit").GetProperty("methods").GetInt64());
        Assert.True(jit.GetProperty("methods").GetInt64() > 0 && jit.GetProperty("il_bytes").GetInt64() > 0);
        Assert.True(jit.GetProperty("compilation_milliseconds").GetDouble() > 0);

        await (await tenant.Client.GetAsync("/admin/runtime")).ProblemAsync(403, "forbidden");
    }

    [Fact]
    public async Task ConcurrentDuplicatesExecuteOnce()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("idempotency-concurrent");
        var key = Guid.NewGuid().ToString();
        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => tenant.Client.PostJsonAsync("/webhooks", Subscription, key)));

        var ids = new HashSet<string>();
        foreach (var r in responses)
        {
            if (r.StatusCode == HttpStatusCode.Conflict) { await r.ProblemAsync(409, "idempotency-in-progress"); continue; }
            ids.Add((await r.JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetString()!);
        }
        Assert.Single(ids);
        Assert.Single((await (await tenant.Client.GetAsync("/webhooks")).JsonAsync(HttpStatusCode.OK)).EnumerateArray());
    }

    [Fact]
    public async Task OversizedBodiesAndTooManyImagesAre413()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("limits");
        var huge = new { url = "http://127.0.0.1:9/hook", events = new[] { "registration.completed" }, description = new string('x', (int)ApiSilo.MaxBodyBytes) };
        // With Content-Length: refused before the body is read, with the size in the detail.
        var sized = new HttpRequestMessage(HttpMethod.Post, "/webhooks") { Content = new StringContent(JsonSerializer.Serialize(huge), Encoding.UTF8, "application/json") };
        sized.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        var problem = await (await tenant.Client.SendAsync(sized)).ProblemAsync(413, "payload-too-large");
        Assert.Contains($"the limit is {ApiSilo.MaxBodyBytes} bytes (Limits:MaxRequestBodyBytes)", problem.GetProperty("detail").GetString());

        // A chunked body (no Content-Length) is cut off by the server-side cap as well.
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks")
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(huge)))),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        var chunked = await (await tenant.Client.SendAsync(request)).ProblemAsync(413, "payload-too-large");
        Assert.Contains("Limits:MaxRequestBodyBytes", chunked.GetProperty("detail").GetString());
        Assert.Empty((await (await tenant.Client.GetAsync("/webhooks")).JsonAsync(HttpStatusCode.OK)).EnumerateArray());

        UploadLimits.EnsureImageCount(8, 8);
        var tooMany = Assert.Throws<ApiException>(() => UploadLimits.EnsureImageCount(9, 8));
        Assert.Equal(413, tooMany.Kind.Status);
    }

    [Fact]
    public async Task ABurstIsRateLimitedPerKeyWithRetryAfter()
    {
        var noisy = await fixture.Admin.CreateTenantAsync("noisy");
        var quiet = await fixture.Admin.CreateTenantAsync("quiet");
        // The bucket (40) refills by 40 every 2 s, so a burst that straddles a refill passes up to 80: send bursts
        // until the limiter answers, bounded, instead of assuming how fast the machine sends them.
        var responses = new List<HttpResponseMessage>();
        for (var burst = 0; burst < 6 && responses.All(r => r.StatusCode != HttpStatusCode.TooManyRequests); burst++)
            responses.AddRange(await Task.WhenAll(Enumerable.Range(0, 70).Select(_ => noisy.Client.GetAsync("/webhooks"))));

        var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToArray();
        Assert.NotEmpty(limited);
        Assert.True(responses.Count(r => r.StatusCode == HttpStatusCode.OK) >= 40, "a fresh key must get its whole bucket");
        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        var problem = await limited[0].ProblemAsync(429, "rate-limited");
        Assert.NotNull(problem.GetProperty("detail").GetString());
        Assert.True(limited[0].Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 and <= 2 }, $"Retry-After: {limited[0].Headers.RetryAfter}");

        // Partitioned by key: another tenant's key is unaffected.
        Assert.Equal(HttpStatusCode.OK, (await quiet.Client.GetAsync("/webhooks")).StatusCode);
    }

    [Fact]
    public async Task UnknownRoutesAndBadJsonAreProblemsAndTheOpenApiDocumentIsPublic()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("errors");
        await (await tenant.Client.GetAsync("/no-such-thing")).ProblemAsync(404, "not-found");
        await (await tenant.Client.GetAsync("/webhooks/not-an-id")).ProblemAsync(400, "invalid-id");
        var bad = new HttpRequestMessage(HttpMethod.Post, "/webhooks") { Content = new StringContent("{not json", Encoding.UTF8, "application/json") };
        bad.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        await (await tenant.Client.SendAsync(bad)).ProblemAsync(400, "invalid-request");
        await (await tenant.Client.PostJsonAsync("/webhooks", new { url = "ftp://x", events = new[] { "registration.completed" } })).ProblemAsync(400, "invalid-request");
        await (await tenant.Client.PostJsonAsync("/webhooks", new { url = "http://x/", events = new[] { "nope" } })).ProblemAsync(400, "invalid-request");

        using var anonymous = Api.Client(fixture.Silo.BaseAddress);
        await (await anonymous.GetAsync("/no-such-thing")).ProblemAsync(401, "unauthorized"); // routes are not probed anonymously
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
        var doc = await (await anonymous.GetAsync("/openapi/v1.json")).JsonAsync(HttpStatusCode.OK);
        var paths = doc.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/webhooks", out _));
        Assert.True(paths.TryGetProperty("/webhooks/{webhookId}/deliveries", out _));
        Assert.True(paths.TryGetProperty("/admin/tenants/{tenantId}/keys", out _));
        var scheme = doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
    }

    [Fact]
    public async Task DeliveriesAreSignedAndRetriedUntilTheReceiverComesUp()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("webhook-retry");
        var port = Api.FreePort();
        var created = await (await tenant.Client.PostJsonAsync("/webhooks",
            new { url = $"http://127.0.0.1:{port}/hook", events = new[] { "registration.completed", "custody.event_added" } })).JsonAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString()!;
        var secret = created.GetProperty("secret").GetString()!;
        Assert.False((await (await tenant.Client.GetAsync($"/webhooks/{id}")).JsonAsync(HttpStatusCode.OK)).TryGetProperty("secret", out _));

        var ping = await (await tenant.Client.PostJsonAsync($"/webhooks/{id}/ping", new { })).JsonAsync(HttpStatusCode.Accepted);
        var eventId = ping.GetProperty("event_id").GetString()!;

        // Receiver down: attempts fail and are logged with a next attempt time.
        var failed = await tenant.Client.WaitForDeliveriesAsync(id, log => log.Length >= 2, TimeSpan.FromSeconds(15));
        Assert.All(failed, a => Assert.False(a.GetProperty("succeeded").GetBoolean()));
        Assert.All(failed, a => Assert.Equal(JsonValueKind.String, a.GetProperty("next_attempt_at").ValueKind));

        using var receiver = new WebhookReceiver(port);
        var delivery = receiver.WaitForOne(TimeSpan.FromSeconds(15));
        Assert.Equal("/hook", delivery.Path);
        Assert.Equal(eventId, delivery.Headers[WebhookSignature.EventIdHeader]);
        Assert.Equal("webhook.ping", delivery.Headers[WebhookSignature.EventKindHeader]);
        Assert.True(WebhookSignature.Verify(secret, delivery.Headers[WebhookSignature.TimestampHeader], delivery.Body,
            delivery.Headers[WebhookSignature.SignatureHeader], TimeSpan.FromMinutes(5)), "signature does not verify");
        Assert.False(WebhookSignature.Verify("whsec_wrong", delivery.Headers[WebhookSignature.TimestampHeader], delivery.Body,
            delivery.Headers[WebhookSignature.SignatureHeader], TimeSpan.FromMinutes(5)));
        var tampered = delivery.Body.ToArray();
        tampered[^2] ^= 1;
        Assert.False(WebhookSignature.Verify(secret, delivery.Headers[WebhookSignature.TimestampHeader], tampered,
            delivery.Headers[WebhookSignature.SignatureHeader], TimeSpan.FromMinutes(5)));
        using var body = JsonDocument.Parse(delivery.Text);
        Assert.Equal(eventId, body.RootElement.GetProperty("id").GetString());
        Assert.Equal(tenant.Id, body.RootElement.GetProperty("tenant_id").GetString());

        var log = await tenant.Client.WaitForDeliveriesAsync(id, l => l.Any(a => a.GetProperty("succeeded").GetBoolean()), TimeSpan.FromSeconds(10));
        Assert.False(log[0].GetProperty("succeeded").GetBoolean());
        Assert.True(log[^1].GetProperty("succeeded").GetBoolean());
        Assert.Equal(200, log[^1].GetProperty("status_code").GetInt32());
        Assert.Equal(Enumerable.Range(1, log.Length), log.Select(a => a.GetProperty("attempt").GetInt32()));
        Assert.Single(log.Select(a => a.GetProperty("delivery_id").GetString()).Distinct());
        Assert.Equal(1, log.Count(a => a.GetProperty("succeeded").GetBoolean()));
        await Task.Delay(500);
        Assert.Empty(receiver.Received); // delivered once, not again
    }
}
