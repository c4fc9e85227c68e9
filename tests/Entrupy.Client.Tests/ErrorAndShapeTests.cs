using System.Text.Json;
using Entrupy.Client.Tests.Support;
using Entrupy.Registry;
using Entrupy.Registry.Api;

namespace Entrupy.Client.Tests;

/// <summary>Typed errors and the exact requests the client sends, checked on a real Kestrel server.</summary>
public sealed class ErrorAndShapeTests : IAsyncLifetime
{
    private FaultServer server = null!;

    public async Task InitializeAsync() => server = await FaultServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task A_400_problem_becomes_a_typed_exception_with_every_field()
    {
        const string problem = """
            {"type":"https://errors.entrupy.dev/invalid-request","title":"The request is invalid.","status":400,
             "detail":"'biz_step' is not a CBV business step.","instance":"/items/bag-1/custody","trace_id":"00-abc-01",
             "field":"biz_step","rule":"cbv"}
            """;
        server.Then(400, problem, "application/problem+json");
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        var error = await Assert.ThrowsAsync<EntrupyApiException>(() =>
            client.AddCustodyEventAsync("bag-1", new CustodyEventRequest { BizStep = "dancing", EventTime = DateTimeOffset.UtcNow }));

        Assert.Single(server.Requests);
        Assert.Equal(400, error.Status);
        Assert.Equal("https://errors.entrupy.dev/invalid-request", error.Type);
        Assert.Equal(EntrupyProblemTypes.InvalidRequest, error.Kind);
        Assert.Equal("The request is invalid.", error.Title);
        Assert.Equal("'biz_step' is not a CBV business step.", error.Detail);
        Assert.Equal("/items/bag-1/custody", error.Instance);
        Assert.Equal("00-abc-01", error.TraceId);
        Assert.Equal("biz_step", error.GetExtension("field"));
        Assert.Equal("cbv", error.Problem!.Value.GetProperty("rule").GetString());
        Assert.Null(error.RetryAfter);
        Assert.False(error.IsTransient);
        Assert.Contains("biz_step", error.Message);
    }

    [Fact]
    public async Task A_non_problem_error_body_is_still_reported()
    {
        server.Then(403, "<html><body>Blocked by the corporate proxy</body></html>", "text/html");
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        var error = await Assert.ThrowsAsync<EntrupyApiException>(() => client.ListItemsAsync());

        Assert.Equal(403, error.Status);
        Assert.Equal("about:blank", error.Type);
        Assert.Equal("Forbidden", error.Title);
        Assert.Contains("corporate proxy", error.Detail);
        Assert.Null(error.Problem);
    }

    [Fact]
    public async Task An_unreadable_success_body_is_an_api_error_not_a_null()
    {
        server.Then(200, "<html>captive portal</html>", "text/html");
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        var error = await Assert.ThrowsAsync<EntrupyApiException>(() => client.GetItemAsync("bag-1"));

        Assert.Equal(200, error.Status);
        Assert.IsType<JsonException>(error.InnerException, exactMatch: false);
    }

    [Fact]
    public async Task Register_sends_image_parts_and_a_snake_case_metadata_part()
    {
        server.ThenJson(201, new RegistrationResponse { CustomerItemId = "bag-1" });
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));
        var front = Clients.Image("front.jpg", 100);
        var back = new CaptureImage("back.raw", new byte[] { 1, 2, 3 }, "image/x-raw");

        await client.RegisterAsync("bag-1", [front, back], new RegistrationMetadata
        {
            DeviceId = "dev-7",
            OperatorId = "op-3",
            SupersedeReason = "repaired",
            CustodyEvent = new CustodyEventRequest { Action = EpcisAction.Add, BizStep = "commissioning", EventTime = DateTimeOffset.UnixEpoch },
        });

        var request = Assert.Single(server.Requests);
        Assert.StartsWith("multipart/form-data", request.Header("Content-Type"));
        var parts = await Multipart.ParseAsync(request);
        Assert.Equal([ApiRoutes.ImagePart, ApiRoutes.ImagePart, ApiRoutes.MetadataPart], parts.Select(p => p.Name));
        Assert.Equal("front.jpg", parts[0].FileName);
        Assert.Equal("image/jpeg", parts[0].ContentType);
        Assert.Equal(front.Content.ToArray(), parts[0].Content);
        Assert.Equal("image/x-raw", parts[1].ContentType);
        Assert.Equal(new byte[] { 1, 2, 3 }, parts[1].Content);
        var metadata = JsonDocument.Parse(parts[2].Content).RootElement;
        Assert.Equal("dev-7", metadata.GetProperty("device_id").GetString());
        Assert.Equal("repaired", metadata.GetProperty("supersede_reason").GetString());
        Assert.Equal("ADD", metadata.GetProperty("custody_event").GetProperty("action").GetString());
        Assert.False(metadata.TryGetProperty("location", out _), "nulls are left out");
    }

    [Fact]
    public async Task Repeating_a_call_sends_the_same_bytes_so_a_caller_key_replays_instead_of_conflicting()
    {
        server.ThenJson(201, new RegistrationResponse()).ThenJson(201, new RegistrationResponse()).ThenJson(201, new RegistrationResponse());
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));
        var key = new RequestOptions { IdempotencyKey = "queue-entry-9" };
        var metadata = new RegistrationMetadata { DeviceId = "dev-7" };

        await client.RegisterAsync("bag-1", [Clients.Image("a.png")], metadata, key);
        await client.RegisterAsync("bag-1", [Clients.Image("a.png")], metadata, key);
        await client.RegisterAsync("bag-1", [Clients.Image("a.png")], metadata with { DeviceId = "dev-8" }, key);

        var requests = server.Requests;
        Assert.Equal(requests[0].Body, requests[1].Body);
        Assert.Equal(requests[0].Header("Content-Type"), requests[1].Header("Content-Type"));
        Assert.NotEqual(requests[0].Body, requests[2].Body);
    }

    [Fact]
    public async Task Compare_and_trace_send_images_only_and_trace_passes_top()
    {
        server.ThenJson(200, new CompareResponse()).ThenJson(200, new TraceResponse { Threshold = 0.5 });
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        await client.CompareAsync("bag-1", [Clients.Image()]);
        var trace = await client.TraceAsync([Clients.Image(), Clients.Image("b.png")], top: 7);

        Assert.Equal(0.5, trace.Threshold);
        var requests = server.Requests;
        Assert.Equal("/items/bag-1/compare", requests[0].PathAndQuery);
        Assert.Equal("/trace?top=7", requests[1].PathAndQuery);
        Assert.All(await Multipart.ParseAsync(requests[1]), p => Assert.Equal(ApiRoutes.ImagePart, p.Name));
        Assert.Equal(2, (await Multipart.ParseAsync(requests[1])).Count);
    }

    [Fact]
    public async Task An_empty_image_list_is_refused_before_sending()
    {
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));
        await Assert.ThrowsAsync<ArgumentException>(() => client.CompareAsync("bag-1", []));
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Listings_pass_paging_parameters_escaped()
    {
        server.ThenJson(200, new ItemPage()).ThenJson(200, new ReviewQueuePage()).ThenJson(200, new CustodyEventPage());
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        await client.ListItemsAsync(limit: 10, cursor: "a+b/c=");
        await client.ListReviewQueueAsync(limit: 3);
        await client.ListCustodyEventsAsync("bag-1", from: 5, limit: 2);

        Assert.Equal(["/items?limit=10&cursor=a%2Bb%2Fc%3D", "/reviews?limit=3", "/items/bag-1/custody?from=5&limit=2"],
            server.Requests.Select(r => r.PathAndQuery));
    }

    [Fact]
    public async Task All_custody_events_are_walked_page_by_page()
    {
        server.ThenJson(200, new CustodyEventPage { Events = [new() { Sequence = 0 }, new() { Sequence = 1 }], NextFrom = 2 })
              .ThenJson(200, new CustodyEventPage { Events = [new() { Sequence = 2 }], NextFrom = null });
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        var events = new List<CustodyEvent>();
        await foreach (var e in client.GetAllCustodyEventsAsync("bag-1")) events.Add(e);

        Assert.Equal([0, 1, 2], events.Select(e => e.Sequence));
        Assert.Equal("/items/bag-1/custody?from=2&limit=1000", server.Requests[1].PathAndQuery);
    }

    [Fact]
    public async Task Waiting_for_an_authentication_polls_until_it_is_decided()
    {
        server.ThenJson(200, new AuthenticationResult { AuthenticationId = "a1", Status = AuthenticationStatus.Pending })
              .ThenJson(200, new AuthenticationResult { AuthenticationId = "a1", Status = AuthenticationStatus.Pending })
              .ThenJson(200, new AuthenticationResult { AuthenticationId = "a1", Status = AuthenticationStatus.NeedsReview });
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        var result = await client.WaitForAuthenticationAsync("bag-1", "a1", TimeSpan.FromSeconds(20));

        Assert.Equal(AuthenticationStatus.NeedsReview, result.Status);
        Assert.Equal(3, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.Equal("/items/bag-1/authentications/a1", r.PathAndQuery));
    }

    [Fact]
    public async Task Waiting_for_an_authentication_times_out()
    {
        for (var i = 0; i < 20; i++) server.ThenJson(200, new AuthenticationResult { AuthenticationId = "a1", Status = AuthenticationStatus.Pending });
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        await Assert.ThrowsAsync<TimeoutException>(() => client.WaitForAuthenticationAsync("bag-1", "a1", TimeSpan.FromMilliseconds(600)));
        Assert.InRange(server.Requests.Count, 2, 6);
    }

    [Fact]
    public async Task A_base_address_path_prefix_is_kept()
    {
        server.ThenJson(200, new ItemPage());
        using var client = new EntrupyClient(Clients.Options(new Uri(server.BaseAddress, "registry/v1")));

        await client.ListItemsAsync(limit: 1);

        Assert.Equal("/registry/v1/items?limit=1", Assert.Single(server.Requests).PathAndQuery);
    }

    [Fact]
    public async Task A_caller_owned_http_client_is_used_and_not_disposed()
    {
        server.ThenJson(200, new ItemPage()).ThenJson(200, new ItemPage());
        using var http = new HttpClient();
        using (var client = new EntrupyClient(http, Clients.Options(server.BaseAddress)))
        {
            await client.ListItemsAsync();
        }
        // Still usable after the client was disposed.
        var response = await http.GetAsync(new Uri(server.BaseAddress, "items"));
        Assert.Equal(200, (int)response.StatusCode);
    }

    [Fact]
    public void Options_are_validated()
    {
        Assert.Throws<ArgumentException>(() => new EntrupyClient(new EntrupyClientOptions { BaseAddress = server.BaseAddress, ApiKey = "" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EntrupyClient(new EntrupyClientOptions { BaseAddress = server.BaseAddress, ApiKey = "k", MaxRetries = -1 }));
        Assert.Throws<ArgumentException>(() => new EntrupyClient(new EntrupyClientOptions { BaseAddress = new Uri("/relative", UriKind.Relative), ApiKey = "k" }));
    }

    [Fact]
    public async Task A_malformed_idempotency_key_is_refused_before_sending()
    {
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));
        await Assert.ThrowsAsync<ArgumentException>(() =>
            client.LinkAsync("tmp", new LinkRequest { PermanentCustomerItemId = "p" }, new RequestOptions { IdempotencyKey = "has space" }));
        Assert.Empty(server.Requests);
    }
}
