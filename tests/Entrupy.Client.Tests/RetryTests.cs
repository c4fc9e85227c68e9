using System.Diagnostics;
using Entrupy.Client.Tests.Support;
using Entrupy.Registry;
using Entrupy.Registry.Api;

namespace Entrupy.Client.Tests;

/// <summary>Retry, idempotency-key, timeout and cancellation behaviour against a scripted Kestrel server.</summary>
public sealed class RetryTests : IAsyncLifetime
{
    private FaultServer server = null!;

    public async Task InitializeAsync() => server = await FaultServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    private static RegistrationResponse Registered(string id, int number) => new()
    {
        CustomerItemId = id,
        Registration = new FingerprintRegistration { Number = number },
    };

    [Fact]
    public async Task Retries_of_a_post_reuse_the_same_idempotency_key_and_body()
    {
        server.ThenProblem(503, "storage-unavailable").Then(502, "<html>bad gateway</html>", "text/html").ThenJson(201, Registered("bag-1", 1));
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        var response = await client.RegisterAsync("bag-1", [Clients.Image("a.png"), Clients.Image("b.jpg")], new RegistrationMetadata { DeviceId = "dev-7" });

        Assert.Equal("bag-1", response.CustomerItemId);
        Assert.Equal(1, response.Registration.Number);
        var requests = server.Requests;
        Assert.Equal(3, requests.Count);
        var key = requests[0].Header(ApiRoutes.IdempotencyKeyHeader);
        Assert.False(string.IsNullOrEmpty(key));
        Assert.All(requests, r =>
        {
            Assert.Equal("POST", r.Method);
            Assert.Equal("/items/bag-1/registrations", r.PathAndQuery);
            Assert.Equal(key, r.Header(ApiRoutes.IdempotencyKeyHeader));
            Assert.Equal("Bearer " + Clients.TestKey, r.Header("Authorization"));
            // Byte-identical bodies (same multipart boundary): the silo hashes the body to detect key reuse.
            Assert.Equal(requests[0].Body, r.Body);
        });
    }

    [Fact]
    public async Task Each_call_gets_a_new_key_unless_the_caller_gives_one()
    {
        server.ThenJson(200, new CompareResponse()).ThenJson(200, new CompareResponse()).ThenJson(200, new CompareResponse());
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        await client.CompareAsync("bag-1", [Clients.Image()]);
        await client.CompareAsync("bag-1", [Clients.Image()]);
        await client.CompareAsync("bag-1", [Clients.Image()], new RequestOptions { IdempotencyKey = "device-queue-42" });

        var keys = server.Requests.Select(r => r.Header(ApiRoutes.IdempotencyKeyHeader)).ToArray();
        Assert.NotEqual(keys[0], keys[1]);
        Assert.True(Guid.TryParse(keys[0], out _));
        Assert.Equal("device-queue-42", keys[2]);
    }

    [Fact]
    public async Task A_503_then_201_succeeds()
    {
        server.ThenProblem(503, "storage-unavailable").ThenJson(201, new CustodyEvent { Sequence = 4, EventId = "urn:uuid:1" });
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        var recorded = await client.AddCustodyEventAsync("bag-1", new CustodyEventRequest { BizStep = "shipping", EventTime = DateTimeOffset.UtcNow });

        Assert.Equal(4, recorded.Sequence);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task A_429_waits_for_its_retry_after()
    {
        server.ThenProblem(429, "rate-limited", "slow down", ("Retry-After", "1")).ThenJson(200, new ItemPage());
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        await client.ListItemsAsync();

        var requests = server.Requests;
        Assert.Equal(2, requests.Count);
        var gap = Stopwatch.GetElapsedTime(requests[0].ArrivedTicks, requests[1].ArrivedTicks);
        // The backoff alone would be at most 10 ms; the server asked for a second.
        Assert.True(gap >= TimeSpan.FromMilliseconds(950), $"retried after {gap.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task A_retry_after_longer_than_the_cap_is_left_to_the_caller()
    {
        server.ThenProblem(429, "rate-limited", null, ("Retry-After", "120"));
        var options = Clients.Options(server.BaseAddress);
        options.MaxRetryAfter = TimeSpan.FromSeconds(5);
        using var client = new EntrupyClient(options);

        var error = await Assert.ThrowsAsync<EntrupyApiException>(() => client.ListItemsAsync());

        Assert.Equal(429, error.Status);
        Assert.Equal(TimeSpan.FromSeconds(120), error.RetryAfter);
        Assert.True(error.IsTransient);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_409_idempotency_in_progress_is_retried_but_a_plain_conflict_is_not()
    {
        server.ThenProblem(409, "idempotency-in-progress", null, ("Retry-After", "0")).ThenJson(200, new ItemView { CustomerItemId = "perm-1" });
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));
        var permanent = await client.LinkAsync("tmp-1", new LinkRequest { PermanentCustomerItemId = "perm-1" });
        Assert.Equal("perm-1", permanent.CustomerItemId);
        Assert.Equal(2, server.Requests.Count);

        server.ThenProblem(409, "item-linked", "tmp-1 is linked");
        var error = await Assert.ThrowsAsync<EntrupyApiException>(() => client.AddCustodyEventAsync("tmp-1", new CustodyEventRequest { BizStep = "receiving" }));
        Assert.Equal(EntrupyProblemTypes.ItemLinked, error.Kind);
        Assert.False(error.IsTransient);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task Waiting_for_a_running_duplicate_does_not_use_up_the_retries()
    {
        for (var i = 0; i < 6; i++) server.ThenProblem(409, "idempotency-in-progress", null, ("Retry-After", "0"));
        server.ThenJson(201, new RegistrationResponse { CustomerItemId = "bag-1" });
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress, maxRetries: 1));

        var response = await client.RegisterAsync("bag-1", [Clients.Image()]);

        Assert.Equal("bag-1", response.CustomerItemId);
        Assert.Equal(7, server.Requests.Count);
        Assert.Single(server.Requests.Select(r => r.Header(ApiRoutes.IdempotencyKeyHeader)).Distinct());
    }

    [Fact]
    public async Task Waiting_for_a_running_duplicate_ends_after_one_attempt_timeout()
    {
        for (var i = 0; i < 200; i++) server.ThenProblem(409, "idempotency-in-progress", null, ("Retry-After", "0"));
        var options = Clients.Options(server.BaseAddress, maxRetries: 1, timeout: TimeSpan.FromMilliseconds(400));
        options.InitialBackoff = TimeSpan.FromMilliseconds(40);
        using var client = new EntrupyClient(options);
        var watch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<EntrupyApiException>(() => client.RegisterAsync("bag-1", [Clients.Image()]));

        Assert.Equal(EntrupyProblemTypes.IdempotencyInProgress, error.Kind);
        Assert.True(error.IsTransient);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));
        Assert.InRange(server.Requests.Count, 4, 40);
    }

    [Theory]
    [InlineData(400, "invalid-request")]
    [InlineData(404, "not-found")]
    [InlineData(422, "capture-rejected")]
    [InlineData(500, "internal")]
    public async Task Non_transient_errors_are_not_retried(int status, string kind)
    {
        server.ThenProblem(status, kind, "what went wrong");
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        var error = await Assert.ThrowsAsync<EntrupyApiException>(() => client.CompareAsync("bag-1", [Clients.Image()]));

        Assert.Single(server.Requests);
        Assert.Equal(status, error.Status);
        Assert.Equal(kind, error.Kind);
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task Transient_errors_give_up_after_max_retries_with_the_last_problem()
    {
        server.ThenProblem(503, "storage-unavailable").ThenProblem(504, "timeout").ThenProblem(503, "storage-unavailable", "still down");
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress, maxRetries: 2));

        var error = await Assert.ThrowsAsync<EntrupyApiException>(() => client.GetItemAsync("bag-1"));

        Assert.Equal(3, server.Requests.Count);
        Assert.Equal(503, error.Status);
        Assert.Equal("still down", error.Detail);
        Assert.True(error.IsTransient);
    }

    [Fact]
    public async Task Connection_refused_ends_in_unreachable_after_every_attempt()
    {
        var address = FaultServer.UnusedAddress();
        using var client = new EntrupyClient(Clients.Options(address, maxRetries: 2));

        var error = await Assert.ThrowsAsync<EntrupyUnreachableException>(() => client.GetItemAsync("bag-1"));

        Assert.Equal(3, error.Attempts);
        Assert.Equal(address, error.BaseAddress);
        Assert.IsType<HttpRequestException>(error.InnerException);
        Assert.False(error.TimedOut);
    }

    [Fact]
    public async Task A_slow_attempt_times_out_and_the_retry_succeeds_with_the_same_key()
    {
        server.Then(200, "{}", delay: TimeSpan.FromSeconds(5)).ThenJson(200, new CompareResponse { Match = true, Score = 42 });
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress, timeout: TimeSpan.FromMilliseconds(300)));

        var response = await client.CompareAsync("bag-1", [Clients.Image()]);

        Assert.True(response.Match);
        var requests = server.Requests;
        Assert.Equal(2, requests.Count);
        Assert.Equal(requests[0].Header(ApiRoutes.IdempotencyKeyHeader), requests[1].Header(ApiRoutes.IdempotencyKeyHeader));
    }

    [Fact]
    public async Task Timeouts_on_every_attempt_end_in_unreachable()
    {
        server.ThenHang().ThenHang();
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress, maxRetries: 1, timeout: TimeSpan.FromMilliseconds(200)));

        var error = await Assert.ThrowsAsync<EntrupyUnreachableException>(() => client.GetItemAsync("bag-1"));

        Assert.True(error.TimedOut);
        Assert.Equal(2, error.Attempts);
    }

    [Fact]
    public async Task Cancellation_stops_a_call_in_flight_without_retrying()
    {
        server.ThenHang();
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));
        using var cts = new CancellationTokenSource();
        var call = client.TraceAsync([Clients.Image()], ct: cts.Token);

        // Cancel once the call is in flight at the server (a fixed deadline from the start could fire before a loaded
        // machine sent anything): what must stop is the hanging attempt, with no retry after it.
        var deadline = Stopwatch.StartNew();
        while (server.Requests.Count == 0 && deadline.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(10);
        Assert.Single(server.Requests);
        var watch = Stopwatch.StartNew();
        cts.CancelAfter(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"took {watch.Elapsed}");
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Cancellation_stops_the_wait_between_retries()
    {
        server.ThenProblem(503, "storage-unavailable", null, ("Retry-After", "30"));
        var options = Clients.Options(server.BaseAddress);
        using var client = new EntrupyClient(options);
        using var cts = new CancellationTokenSource();
        var call = client.ListItemsAsync(ct: cts.Token);

        // Cancel once the first attempt has reached the server (a fixed deadline from the start could fire before
        // a loaded machine sent anything): what must stop is the 30 s wait before the retry.
        var deadline = Stopwatch.StartNew();
        while (server.Requests.Count == 0 && deadline.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(10);
        Assert.Single(server.Requests);
        var watch = Stopwatch.StartNew();
        cts.CancelAfter(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"took {watch.Elapsed}");
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Gets_carry_no_idempotency_key_and_are_retried_too()
    {
        server.ThenProblem(502, "bad-gateway").ThenJson(200, new ItemView { CustomerItemId = "bag 1/x", Exists = true });
        using var client = new EntrupyClient(Clients.Options(server.BaseAddress));

        var item = await client.GetItemAsync("bag 1/x");

        Assert.Equal("bag 1/x", item.CustomerItemId);
        Assert.All(server.Requests, r =>
        {
            Assert.Null(r.Header(ApiRoutes.IdempotencyKeyHeader));
            Assert.Equal("/items/bag%201%2Fx", r.PathAndQuery);
        });
    }

    [Fact]
    public void Backoff_grows_exponentially_with_jitter_and_is_capped()
    {
        var options = new EntrupyClientOptions
        {
            BaseAddress = new Uri("http://127.0.0.1:1/"), ApiKey = "k",
            InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromSeconds(1),
        };
        using var transport = new Internal.ApiTransport(null, options);
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var nominal = Math.Min(100 * Math.Pow(2, attempt), 1000);
            var samples = Enumerable.Range(0, 50).Select(_ => transport.Backoff(attempt).TotalMilliseconds).ToArray();
            Assert.All(samples, s => Assert.InRange(s, nominal * 0.5 - 0.01, nominal + 0.01));
            Assert.True(samples.Distinct().Count() > 1, "no jitter");
        }
    }
}
