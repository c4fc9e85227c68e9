using System.Net;
using System.Text.Json;

namespace Entrupy.Silo.Tests;

/// <summary>A real silo (SQLite file, real ONNX authentication models) with short job and webhook delays.</summary>
public sealed class AuthenticationSilo : IAsyncLifetime
{
    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "entrupy-auth-test-" + Guid.NewGuid().ToString("N")[..8]);
    public SiloProcess Silo { get; private set; } = null!;
    public HttpClient Admin { get; private set; } = null!;

    /// <summary>The API test settings (later arguments win) plus fast job retries, room for several captures, and a rate limit the polling loops never reach.</summary>
    public static string[] Arguments(string dbPath, bool runJobs = true) =>
    [
        .. ApiSilo.Arguments(dbPath),
        "--RateLimits:TokenLimit=1000", "--RateLimits:TokensPerPeriod=1000", "--Limits:MaxRequestBodyBytes=2097152",
        "--AuthenticationJobs:PollInterval=00:00:00.200", "--AuthenticationJobs:BaseDelay=00:00:00.200", "--AuthenticationJobs:MaxDelay=00:00:01",
        $"--AuthenticationJobs:RunJobs={runJobs}",
    ];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataDir);
        Silo = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), Arguments(Path.Combine(DataDir, "silo.db")));
        Admin = Api.Client(Silo.BaseAddress, ApiSilo.AdminKey);
    }

    public async Task DisposeAsync()
    {
        Admin.Dispose();
        await Silo.DisposeAsync();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>POST /items/{id}/authentications → 202 → background verdict; the review queue; errors. Over HTTP against the real silo.</summary>
public sealed class AuthenticationTests(AuthenticationSilo fixture) : IClassFixture<AuthenticationSilo>
{
    private static readonly TimeSpan DecisionTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task SubmittedCapturesAreJudgedInTheBackgroundAndTheVerdictMatchesTheSampleLabel()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("auth-verdicts");
        var submitted = new List<(AuthenticationSample Sample, string Location)>();
        foreach (var sample in AuthenticationSamples.All)
        {
            var (location, pending) = await tenant.Client.SubmitAcceptedAsync("bag-" + Path.GetFileNameWithoutExtension(sample.File), [sample.Bytes], sample.ModelId);
            Assert.Equal("pending", pending.GetProperty("status").GetString());
            submitted.Add((sample, location));
        }
        Assert.Contains(submitted, s => s.Sample.Truth == "authentic");
        Assert.Contains(submitted, s => s.Sample.Truth == "not_authentic");

        foreach (var (sample, location) in submitted)
        {
            var result = await tenant.Client.WaitUntilDecidedAsync(location, DecisionTimeout);
            Assert.True(sample.Truth == result.GetProperty("status").GetString(), $"{sample.File}: labelled {sample.Truth}, judged {result}");
            Assert.Equal(sample.ModelId, result.GetProperty("model_id").GetString());
            Assert.False(string.IsNullOrEmpty(result.GetProperty("model_version").GetString()));
            var p = result.GetProperty("scores").GetProperty("p_authentic").GetDouble();
            Assert.True(Math.Abs(p - sample.PAuthentic) < 1e-3, $"{sample.File}: p_authentic {p}, the model's reference twin says {sample.PAuthentic}");
            Assert.False(result.TryGetProperty("reviewer_verdict", out var verdict) && verdict.ValueKind != JsonValueKind.Null);
            Assert.True(result.GetProperty("updated_at").GetDateTimeOffset() >= result.GetProperty("recorded_at").GetDateTimeOffset());
        }

        // Decided by the model alone: nothing is waiting for an expert.
        Assert.Empty(await tenant.Client.ReviewQueueAsync());
    }

    [Fact]
    public async Task RetriesNeverStartASecondAuthentication()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("auth-retries");
        var sample = AuthenticationSamples.Get("acme-canvas", "authentic");

        // Same Idempotency-Key: the first answer is replayed and nothing runs again.
        var key = Guid.NewGuid().ToString();
        using var first = await tenant.Client.SubmitAsync("retry-1", [sample.Bytes], new { model = sample.ModelId }, key);
        var firstBody = await first.JsonAsync(HttpStatusCode.Accepted);
        // Never registered, known only through this authentication: still one of the tenant's items.
        var listed = await (await tenant.Client.GetAsync("/items")).JsonAsync(HttpStatusCode.OK);
        var entry = Assert.Single(listed.GetProperty("items").EnumerateArray());
        Assert.Equal("retry-1", entry.GetProperty("customer_item_id").GetString());
        Assert.False(entry.TryGetProperty("current_registration", out var registration) && registration.ValueKind != JsonValueKind.Null);
        using var replay = await tenant.Client.SubmitAsync("retry-1", [sample.Bytes], new { model = sample.ModelId }, key);
        var replayBody = await replay.JsonAsync(HttpStatusCode.Accepted);
        Assert.Equal("true", replay.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(firstBody.GetProperty("authentication_id").GetString(), replayBody.GetProperty("authentication_id").GetString());
        Assert.Equal(first.Headers.Location, replay.Headers.Location);
        await tenant.Client.WaitUntilDecidedAsync(first.Headers.Location!.ToString(), DecisionTimeout);

        // A client-chosen authentication_id sent again under a new key: the stored result, with its status resource.
        var chosen = new { model = sample.ModelId, authentication_id = "auth-chosen-1" };
        var (location, _) = await SubmitWithIdAsync(tenant, chosen, HttpStatusCode.Accepted);
        var decided = await tenant.Client.WaitUntilDecidedAsync(location, DecisionTimeout);
        var (againLocation, again) = await SubmitWithIdAsync(tenant, chosen, HttpStatusCode.OK);
        Assert.Equal(location, againLocation);
        Assert.Equal(decided.GetProperty("status").GetString(), again.GetProperty("status").GetString());
        Assert.Equal(decided.GetProperty("recorded_at").GetDateTimeOffset(), again.GetProperty("recorded_at").GetDateTimeOffset());

        // The same id with another model is a different authentication: refused.
        using var clash = await tenant.Client.SubmitAsync("retry-2", [sample.Bytes], new { model = "acme-leather", authentication_id = "auth-chosen-1" });
        await clash.ProblemAsync(409, "conflict");

        async Task<(string Location, JsonElement Body)> SubmitWithIdAsync(Tenant t, object metadata, HttpStatusCode expected)
        {
            using var response = await t.Client.SubmitAsync("retry-2", [sample.Bytes], metadata);
            var body = await response.JsonAsync(expected);
            Assert.Equal("auth-chosen-1", body.GetProperty("authentication_id").GetString());
            return (response.Headers.Location!.ToString(), body);
        }
    }

    [Fact]
    public async Task AnInconclusiveVerdictWaitsInTheReviewQueueUntilAnExpertDecides()
    {
        var a = await fixture.Admin.CreateTenantAsync("auth-review-a");
        var b = await fixture.Admin.CreateTenantAsync("auth-review-b");
        // The single samples are all decided by the model. Two conflicting captures of one item (a genuine and a
        // counterfeit leather capture) average to a probability inside the model's inconclusive band.
        var genuine = AuthenticationSamples.Get("acme-leather", "authentic");
        var counterfeit = AuthenticationSamples.Get("acme-leather", "not_authentic");
        var band = AuthenticationSamples.Thresholds("acme-leather");
        Assert.InRange((genuine.PAuthentic + counterfeit.PAuthentic) / 2, band.NotAuthenticMax, band.AuthenticMin);

        // Three, one after another, so the queue order is known: oldest first.
        var queued = new List<(string ItemId, string AuthenticationId, string Location)>();
        for (var i = 0; i < 3; i++)
        {
            var itemId = $"review-item-{i}";
            var (location, pending) = await a.Client.SubmitAcceptedAsync(itemId, [genuine.Bytes, counterfeit.Bytes], "acme-leather");
            var result = await a.Client.WaitUntilDecidedAsync(location, DecisionTimeout);
            Assert.Equal("needs_review", result.GetProperty("status").GetString());
            var p = result.GetProperty("scores").GetProperty("p_authentic").GetDouble();
            Assert.InRange(p, band.NotAuthenticMax, band.AuthenticMin);
            queued.Add((itemId, pending.GetProperty("authentication_id").GetString()!, location));
        }

        // Paging: two, then the third, oldest first, with the needs_review result.
        var page1 = await (await a.Client.GetAsync("/reviews?limit=2")).JsonAsync(HttpStatusCode.OK);
        var cursor = page1.GetProperty("next_cursor").GetString()!;
        var page2 = await (await a.Client.GetAsync("/reviews?limit=2&cursor=" + Uri.EscapeDataString(cursor))).JsonAsync(HttpStatusCode.OK);
        Assert.False(page2.TryGetProperty("next_cursor", out var end) && end.ValueKind != JsonValueKind.Null);
        var listed = page1.GetProperty("entries").EnumerateArray().Concat(page2.GetProperty("entries").EnumerateArray()).ToArray();
        Assert.Equal(queued.Select(q => (q.ItemId, q.AuthenticationId)),
            listed.Select(e => (e.GetProperty("customer_item_id").GetString()!, e.GetProperty("authentication").GetProperty("authentication_id").GetString()!)));
        Assert.All(listed, e => Assert.Equal("needs_review", e.GetProperty("authentication").GetProperty("status").GetString()));

        // Tenant isolation: B sees none of it and cannot review it.
        Assert.Empty(await b.Client.ReviewQueueAsync());
        await (await b.Client.GetAsync(queued[0].Location)).ProblemAsync(404, "not-found");
        await (await b.Client.PostJsonAsync(queued[0].Location + "/review", new { reviewer = "intruder", status = "authentic" })).ProblemAsync(404, "not-found");

        // Only a final verdict by a named reviewer is accepted.
        await (await a.Client.PostJsonAsync(queued[1].Location + "/review", new { reviewer = "expert-7", status = "needs_review" })).ProblemAsync(400, "invalid-request");
        await (await a.Client.PostJsonAsync(queued[1].Location + "/review", new { reviewer = "  ", status = "authentic" })).ProblemAsync(400, "invalid-request");
        await (await a.Client.PostJsonAsync(queued[1].Location + "/review", new { status = "authentic" })).ProblemAsync(400, "invalid-request");
        await (await a.Client.PostJsonAsync($"/items/{queued[1].ItemId}/authentications/no-such-auth/review", new { reviewer = "expert-7", status = "authentic" })).ProblemAsync(404, "not-found");

        var reviewed = await (await a.Client.PostJsonAsync(queued[1].Location + "/review",
            new { reviewer = "expert-7", status = "not_authentic", note = "stitching pitch wrong" })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("not_authentic", reviewed.GetProperty("status").GetString());
        var verdict = reviewed.GetProperty("reviewer_verdict");
        Assert.Equal("expert-7", verdict.GetProperty("reviewer").GetString());
        Assert.Equal("not_authentic", verdict.GetProperty("status").GetString());
        Assert.Equal("stitching pitch wrong", verdict.GetProperty("note").GetString());
        // The model's scores stay beside the expert's verdict.
        Assert.True(reviewed.GetProperty("scores").TryGetProperty("p_authentic", out _));

        var stored = await (await a.Client.GetAsync(queued[1].Location)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("not_authentic", stored.GetProperty("status").GetString());
        Assert.Equal("expert-7", stored.GetProperty("reviewer_verdict").GetProperty("reviewer").GetString());
        var remaining = await a.Client.ReviewQueueAsync();
        Assert.Equal([queued[0].AuthenticationId, queued[2].AuthenticationId],
            remaining.Select(e => e.GetProperty("authentication").GetProperty("authentication_id").GetString()));

        // The same verdict again (a client retry) gets the stored result; another verdict, or one on a result the model
        // decided, conflicts.
        var repeated = await (await a.Client.PostJsonAsync(queued[1].Location + "/review",
            new { reviewer = "expert-7", status = "not_authentic", note = "stitching pitch wrong" })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(reviewed.GetProperty("updated_at").GetDateTimeOffset(), repeated.GetProperty("updated_at").GetDateTimeOffset());
        await (await a.Client.PostJsonAsync(queued[1].Location + "/review", new { reviewer = "expert-8", status = "authentic" })).ProblemAsync(409, "conflict");
        var decidedByModel = AuthenticationSamples.Get("acme-canvas", "authentic");
        var (modelLocation, _) = await a.Client.SubmitAcceptedAsync("review-item-model", [decidedByModel.Bytes], decidedByModel.ModelId);
        await a.Client.WaitUntilDecidedAsync(modelLocation, DecisionTimeout);
        await (await a.Client.PostJsonAsync(modelLocation + "/review", new { reviewer = "expert-7", status = "not_authentic" })).ProblemAsync(409, "conflict");

        // Concurrent reviews of one authentication: exactly one wins.
        var racing = await Task.WhenAll(new[] { "expert-1", "expert-2", "expert-3" }.Select(r =>
            a.Client.PostJsonAsync(queued[0].Location + "/review", new { reviewer = r, status = "authentic" })));
        Assert.Equal(1, racing.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(2, racing.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal([queued[2].AuthenticationId], (await a.Client.ReviewQueueAsync()).Select(e => e.GetProperty("authentication").GetProperty("authentication_id").GetString()));
    }

    [Fact]
    public async Task BadSubmissionsAreRefusedWithAProblem()
    {
        var tenant = await fixture.Admin.CreateTenantAsync("auth-errors");
        var sample = AuthenticationSamples.Get("acme-leather", "authentic");

        var unknown = await (await tenant.Client.SubmitAsync("err-1", [sample.Bytes], new { model = "acme-velvet" })).ProblemAsync(400, "invalid-request");
        var detail = unknown.GetProperty("detail").GetString()!;
        Assert.Contains("acme-velvet", detail);
        Assert.All(AuthenticationSamples.ModelIds(), id => Assert.Contains(id, detail));

        await (await tenant.Client.SubmitAsync("err-1", [sample.Bytes], new { })).ProblemAsync(400, "invalid-request");
        await (await tenant.Client.SubmitAsync("err-1", [sample.Bytes], metadata: null)).ProblemAsync(400, "invalid-request");
        await (await tenant.Client.SubmitAsync("err-1", [], new { model = "acme-leather" })).ProblemAsync(400, "invalid-request");
        await (await tenant.Client.SubmitAsync("err-1", [sample.Bytes], new { model = "acme-leather", authentication_id = ".hidden" })).ProblemAsync(400, "invalid-request");
        await (await tenant.Client.SubmitAsync("bad id", [sample.Bytes], new { model = "acme-leather" })).ProblemAsync(400, "invalid-id");
        await (await tenant.Client.SubmitAsync("err-1", [sample.Bytes], new { model = "acme-leather" }, idempotencyKey: null)).ProblemAsync(400, "idempotency-key-missing");
        await (await tenant.Client.SubmitAsync("err-1", Enumerable.Repeat(sample.Bytes, 9), new { model = "acme-leather" })).ProblemAsync(413, "payload-too-large");
        await (await tenant.Client.PostJsonAsync("/items/err-1/authentications", new { model = "acme-leather" })).ProblemAsync(415, "unsupported-media-type");

        await (await tenant.Client.GetAsync("/items/err-1/authentications/nothing-here")).ProblemAsync(404, "not-found");
        await (await tenant.Client.GetAsync("/reviews?limit=0")).ProblemAsync(400, "invalid-request");
        await (await tenant.Client.GetAsync("/reviews?cursor=not-a-cursor")).ProblemAsync(400, "invalid-request");
        await (await fixture.Admin.GetAsync("/reviews")).ProblemAsync(403, "forbidden");

        // The endpoints are in the OpenAPI document.
        using var anonymous = Api.Client(fixture.Silo.BaseAddress);
        var paths = (await (await anonymous.GetAsync("/openapi/v1.json")).JsonAsync(HttpStatusCode.OK)).GetProperty("paths");
        foreach (var route in new[] { "/items/{id}/authentications", "/items/{id}/authentications/{authenticationId}", "/items/{id}/authentications/{authenticationId}/review", "/reviews" })
            Assert.True(paths.TryGetProperty(route, out _), route + " is not in the OpenAPI document");

        // None of the refused submissions left anything behind.
        await (await tenant.Client.GetAsync("/items/err-1/authentications/auth-anything")).ProblemAsync(404, "not-found");
        Assert.Empty(await tenant.Client.ReviewQueueAsync());
    }
}
