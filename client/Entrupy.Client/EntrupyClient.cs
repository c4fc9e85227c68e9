using System.Globalization;
using System.Runtime.CompilerServices;
using Entrupy.Client.Internal;
using Entrupy.Registry;
using Entrupy.Registry.Api;

namespace Entrupy.Client;

/// <summary>
/// Client of the registry's tenant API (items, registrations, compare, trace, custody, authentications, links).
/// Thread-safe; create one per API key and reuse it. Every POST carries an <c>Idempotency-Key</c> that stays the same
/// across the client's own retries; transient failures are retried with exponential backoff and jitter; errors surface as
/// <see cref="EntrupyApiException"/> (the silo answered) or <see cref="EntrupyUnreachableException"/> (it could not be reached).
/// </summary>
public sealed class EntrupyClient : IDisposable
{
    /// <summary>Largest page the custody listing accepts; used when walking all events.</summary>
    private const int CustodyPageSize = 1000;

    /// <summary>Largest page the item listing accepts; used when walking all items.</summary>
    private const int ItemPageSize = 500;

    private const string Webhooks = "/webhooks";

    private static readonly TimeSpan DefaultAuthenticationWait = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan FirstPollDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxPollDelay = TimeSpan.FromSeconds(5);

    private readonly ApiTransport transport;

    /// <summary>Creates a client with its own <see cref="HttpClient"/> (over <see cref="EntrupyClientOptions.Handler"/> if set).</summary>
    /// <param name="options">Address, API key, retry and timeout settings (copied).</param>
    public EntrupyClient(EntrupyClientOptions options) => transport = new ApiTransport(null, options);

    /// <summary>Creates a client over a caller-owned <see cref="HttpClient"/> (e.g. from <c>IHttpClientFactory</c>); it is not disposed with the client.</summary>
    /// <param name="http">The HTTP client; its <see cref="HttpClient.BaseAddress"/> is ignored in favour of <see cref="EntrupyClientOptions.BaseAddress"/>.</param>
    /// <param name="options">Address, API key, retry and timeout settings (copied).</param>
    public EntrupyClient(HttpClient http, EntrupyClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        transport = new ApiTransport(http, options);
    }

    /// <summary>The settings in use (a copy of those given).</summary>
    public EntrupyClientOptions Options => transport.Options;

    /// <summary>Registers (or re-registers) an item's surface fingerprint from capture images.</summary>
    /// <param name="customerItemId">The item's customer_item_id.</param>
    /// <param name="images">The captures (at least one; the silo caps the count).</param>
    /// <param name="metadata">Device, operator, location, capture time, EPC, supersede reason, optional custody event.</param>
    /// <param name="request">Idempotency key, if the caller keeps its own.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    /// <returns>The new lineage entry and capture quality figures.</returns>
    public async Task<RegistrationResponse> RegisterAsync(string customerItemId, IReadOnlyList<CaptureImage> images,
        RegistrationMetadata? metadata = null, RequestOptions? request = null, CancellationToken ct = default)
    {
        var body = await RequestBody.MultipartAsync(images, metadata, ct).ConfigureAwait(false);
        return await transport.SendAsync<RegistrationResponse>(HttpMethod.Post, Route(ApiRoutes.Registrations, customerItemId), body, request, ct).ConfigureAwait(false);
    }

    /// <summary>Compares probe captures with the item's current registration (1:1).</summary>
    /// <param name="customerItemId">The item to compare with.</param>
    /// <param name="images">The probe captures.</param>
    /// <param name="request">Idempotency key, if the caller keeps its own.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    /// <returns>Match decision, score and threshold.</returns>
    public async Task<CompareResponse> CompareAsync(string customerItemId, IReadOnlyList<CaptureImage> images,
        RequestOptions? request = null, CancellationToken ct = default)
    {
        var body = await RequestBody.MultipartAsync(images, null, ct).ConfigureAwait(false);
        return await transport.SendAsync<CompareResponse>(HttpMethod.Post, Route(ApiRoutes.Compare, customerItemId), body, request, ct).ConfigureAwait(false);
    }

    /// <summary>Finds which of the tenant's registered items the probe captures show (1:N).</summary>
    /// <param name="images">The probe captures.</param>
    /// <param name="top">How many candidates to return (the silo accepts 1-20).</param>
    /// <param name="request">Idempotency key, if the caller keeps its own.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    /// <returns>The match, if any, and the best candidates.</returns>
    public async Task<TraceResponse> TraceAsync(IReadOnlyList<CaptureImage> images, int top = 5, RequestOptions? request = null, CancellationToken ct = default)
    {
        var body = await RequestBody.MultipartAsync(images, null, ct).ConfigureAwait(false);
        return await transport.SendAsync<TraceResponse>(HttpMethod.Post, ApiRoutes.Trace + Query(("top", Int(top))), body, request, ct).ConfigureAwait(false);
    }

    /// <summary>Runs the server's quality gate on captures without storing anything (guided capture before a registration).</summary>
    /// <param name="images">The captures.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    /// <returns>One verdict per capture, in order.</returns>
    public async Task<CaptureAssessmentResponse> AssessCapturesAsync(IReadOnlyList<CaptureImage> images, CancellationToken ct = default)
    {
        var body = await RequestBody.MultipartAsync(images, null, ct).ConfigureAwait(false);
        return await transport.SendAsync<CaptureAssessmentResponse>(HttpMethod.Post, ApiRoutes.CaptureAssessment, body, null, ct).ConfigureAwait(false);
    }

    /// <summary>Records a chain-of-custody event on the item.</summary>
    /// <param name="customerItemId">The item.</param>
    /// <param name="custodyEvent">The event; set <see cref="CustodyEventRequest.EventId"/> to make repeats return the stored event.</param>
    /// <param name="request">Idempotency key, if the caller keeps its own.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    /// <returns>The recorded event with its sequence and hash.</returns>
    public Task<CustodyEvent> AddCustodyEventAsync(string customerItemId, CustodyEventRequest custodyEvent, RequestOptions? request = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(custodyEvent);
        return transport.SendAsync<CustodyEvent>(HttpMethod.Post, Route(ApiRoutes.Custody, customerItemId), RequestBody.Json(custodyEvent), request, ct);
    }

    /// <summary>Reads one page of the item's custody events, in chain order.</summary>
    /// <param name="customerItemId">The item.</param>
    /// <param name="from">Sequence number to start at.</param>
    /// <param name="limit">Page size (the silo accepts 1-1000).</param>
    /// <param name="ct">Cancels the call.</param>
    /// <returns>The events and the <c>from</c> of the next page.</returns>
    public Task<CustodyEventPage> ListCustodyEventsAsync(string customerItemId, int from = 0, int limit = 100, CancellationToken ct = default)
        => transport.SendAsync<CustodyEventPage>(HttpMethod.Get,
            Route(ApiRoutes.Custody, customerItemId) + Query(("from", Int(from)), ("limit", Int(limit))), null, null, ct);

    /// <summary>Walks all of the item's custody events, page by page.</summary>
    /// <param name="customerItemId">The item.</param>
    /// <param name="ct">Cancels the walk.</param>
    public async IAsyncEnumerable<CustodyEvent> GetAllCustodyEventsAsync(string customerItemId, [EnumeratorCancellation] CancellationToken ct = default)
    {
        int? from = 0;
        while (from is { } start)
        {
            var page = await ListCustodyEventsAsync(customerItemId, start, CustodyPageSize, ct).ConfigureAwait(false);
            foreach (var e in page.Events) yield return e;
            // A next page that does not move forward would loop for ever.
            if (page.NextFrom is { } next && next <= start)
                throw new EntrupyApiException(200, "about:blank", "The custody listing did not advance.", $"from={start} returned next_from={next}.");
            from = page.NextFrom;
        }
    }

    /// <summary>Exports the item's custody events as an EPCIS 2.0 JSON-LD document.</summary>
    /// <param name="customerItemId">The item.</param>
    /// <param name="ct">Cancels the call.</param>
    /// <returns>The document text (<c>application/ld+json</c>).</returns>
    public Task<string> ExportEpcisAsync(string customerItemId, CancellationToken ct = default)
        => transport.SendForStringAsync(HttpMethod.Get, Route(ApiRoutes.CustodyEpcis, customerItemId), ct);

    /// <summary>Reads everything the registry holds about one item (fingerprint bytes left out).</summary>
    /// <param name="customerItemId">The item.</param>
    /// <param name="ct">Cancels the call.</param>
    public Task<ItemView> GetItemAsync(string customerItemId, CancellationToken ct = default)
        => transport.SendAsync<ItemView>(HttpMethod.Get, Route(ApiRoutes.Item, customerItemId), null, null, ct);

    /// <summary>Reads one page of the tenant's items.</summary>
    /// <param name="limit">Page size (the silo accepts 1-500).</param>
    /// <param name="cursor">The <see cref="ItemPage.NextCursor"/> of the previous page; null for the first.</param>
    /// <param name="ct">Cancels the call.</param>
    public Task<ItemPage> ListItemsAsync(int limit = 100, string? cursor = null, CancellationToken ct = default)
        => transport.SendAsync<ItemPage>(HttpMethod.Get, ApiRoutes.Items + Query(("limit", Int(limit)), ("cursor", cursor)), null, null, ct);

    /// <summary>Walks all of the tenant's items, page by page.</summary>
    /// <param name="ct">Cancels the walk.</param>
    public async IAsyncEnumerable<ItemSummary> GetAllItemsAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListItemsAsync(ItemPageSize, cursor, ct).ConfigureAwait(false);
            foreach (var item in page.Items) yield return item;
            if (page.NextCursor is not null && page.NextCursor == cursor)
                throw new EntrupyApiException(200, "about:blank", "The item listing did not advance.", $"cursor {cursor} was returned again.");
            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary>Submits captures for authentication by a brand/material model; the result is usually pending at first.</summary>
    /// <param name="customerItemId">The item.</param>
    /// <param name="images">The captures.</param>
    /// <param name="submission">Model and optional client-chosen authentication id.</param>
    /// <param name="request">Idempotency key, if the caller keeps its own.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    /// <returns>The authentication's status resource (see <see cref="WaitForAuthenticationAsync"/>).</returns>
    public async Task<AuthenticationResult> SubmitAuthenticationAsync(string customerItemId, IReadOnlyList<CaptureImage> images,
        AuthenticationSubmission submission, RequestOptions? request = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var body = await RequestBody.MultipartAsync(images, submission, ct).ConfigureAwait(false);
        return await transport.SendAsync<AuthenticationResult>(HttpMethod.Post, Route(ApiRoutes.Authentications, customerItemId), body, request, ct).ConfigureAwait(false);
    }

    /// <summary>Reads an authentication's current status.</summary>
    /// <param name="customerItemId">The item.</param>
    /// <param name="authenticationId">The authentication.</param>
    /// <param name="ct">Cancels the call.</param>
    public Task<AuthenticationResult> GetAuthenticationAsync(string customerItemId, string authenticationId, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(authenticationId);
        return transport.SendAsync<AuthenticationResult>(HttpMethod.Get, Route(ApiRoutes.Authentication, customerItemId, authenticationId), null, null, ct);
    }

    /// <summary>Polls an authentication until it is no longer pending (authentic, not_authentic or needs_review).</summary>
    /// <param name="customerItemId">The item.</param>
    /// <param name="authenticationId">The authentication.</param>
    /// <param name="timeout">How long to wait in total; null: five minutes.</param>
    /// <param name="ct">Cancels the wait.</param>
    /// <returns>The first non-pending result.</returns>
    /// <exception cref="TimeoutException">Still pending when <paramref name="timeout"/> ran out.</exception>
    public async Task<AuthenticationResult> WaitForAuthenticationAsync(string customerItemId, string authenticationId, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        var limit = timeout ?? DefaultAuthenticationWait;
        var started = TimeProvider.System.GetTimestamp();
        var pause = FirstPollDelay;
        while (true)
        {
            var result = await GetAuthenticationAsync(customerItemId, authenticationId, ct).ConfigureAwait(false);
            if (result.Status != AuthenticationStatus.Pending) return result;
            var left = limit - TimeProvider.System.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"Authentication {authenticationId} of {customerItemId} was still pending after {limit}.");
            await Task.Delay(pause < left ? pause : left, ct).ConfigureAwait(false);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxPollDelay.Ticks));
        }
    }

    /// <summary>Reads one page of the tenant's authentications waiting for an expert, oldest first.</summary>
    /// <param name="limit">Page size (the silo accepts 1-500).</param>
    /// <param name="cursor">The <see cref="ReviewQueuePage.NextCursor"/> of the previous page; null for the first.</param>
    /// <param name="ct">Cancels the call.</param>
    public Task<ReviewQueuePage> ListReviewQueueAsync(int limit = 100, string? cursor = null, CancellationToken ct = default)
        => transport.SendAsync<ReviewQueuePage>(HttpMethod.Get, ApiRoutes.ReviewQueue + Query(("limit", Int(limit)), ("cursor", cursor)), null, null, ct);

    /// <summary>Records an expert's final verdict on an authentication that needs review.</summary>
    /// <param name="customerItemId">The item.</param>
    /// <param name="authenticationId">The authentication.</param>
    /// <param name="review">Reviewer, verdict (authentic or not_authentic) and note.</param>
    /// <param name="request">Idempotency key, if the caller keeps its own.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    public Task<AuthenticationResult> ReviewAuthenticationAsync(string customerItemId, string authenticationId, ReviewRequest review,
        RequestOptions? request = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(authenticationId);
        ArgumentNullException.ThrowIfNull(review);
        return transport.SendAsync<AuthenticationResult>(HttpMethod.Post,
            Route(ApiRoutes.AuthenticationReview, customerItemId, authenticationId), RequestBody.Json(review), request, ct);
    }

    /// <summary>Links a temporary (session) id to the permanent customer_item_id; the temporary item then accepts no more changes.</summary>
    /// <param name="temporaryCustomerItemId">The temporary id.</param>
    /// <param name="link">The permanent id and a reason.</param>
    /// <param name="request">Idempotency key, if the caller keeps its own.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    /// <returns>The permanent item.</returns>
    public Task<ItemView> LinkAsync(string temporaryCustomerItemId, LinkRequest link, RequestOptions? request = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(link);
        return transport.SendAsync<ItemView>(HttpMethod.Post, Route(ApiRoutes.Link, temporaryCustomerItemId), RequestBody.Json(link), request, ct);
    }

    /// <summary>Subscribes a URL to event kinds; the answer's <see cref="WebhookInfo.Secret"/> is the only time the signing secret is shown.</summary>
    /// <param name="url">Absolute http(s) URL that receives the POSTs.</param>
    /// <param name="events">Event kinds (see <see cref="WebhookEvents"/>).</param>
    /// <param name="description">Optional label.</param>
    /// <param name="request">Idempotency key, if the caller keeps its own.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    public Task<WebhookInfo> CreateWebhookAsync(Uri url, IReadOnlyList<string> events, string? description = null, RequestOptions? request = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(events);
        return transport.SendAsync<WebhookInfo>(HttpMethod.Post, Webhooks,
            RequestBody.Json(new CreateWebhookBody(url.AbsoluteUri, events.ToArray(), description)), request, ct);
    }

    /// <summary>Lists the tenant's webhook subscriptions (without secrets).</summary>
    /// <param name="ct">Cancels the call.</param>
    public Task<WebhookInfo[]> ListWebhooksAsync(CancellationToken ct = default)
        => transport.SendAsync<WebhookInfo[]>(HttpMethod.Get, Webhooks, null, null, ct);

    /// <summary>Reads one webhook subscription (without its secret).</summary>
    /// <param name="webhookId">Subscription id (<c>whk_…</c>).</param>
    /// <param name="ct">Cancels the call.</param>
    public Task<WebhookInfo> GetWebhookAsync(string webhookId, CancellationToken ct = default)
        => transport.SendAsync<WebhookInfo>(HttpMethod.Get, WebhookPath(webhookId), null, null, ct);

    /// <summary>Deletes a webhook subscription; its pending deliveries are dropped.</summary>
    /// <param name="webhookId">Subscription id (<c>whk_…</c>).</param>
    /// <param name="ct">Cancels the call.</param>
    public async Task DeleteWebhookAsync(string webhookId, CancellationToken ct = default)
    {
        using var response = await transport.SendAsync(HttpMethod.Delete, WebhookPath(webhookId), null, null, ct).ConfigureAwait(false);
    }

    /// <summary>Queues a <c>webhook.ping</c> event to one subscription, to test the receiver.</summary>
    /// <param name="webhookId">Subscription id (<c>whk_…</c>).</param>
    /// <param name="request">Idempotency key, if the caller keeps its own.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    /// <returns>The queued event's id.</returns>
    public async Task<string> PingWebhookAsync(string webhookId, RequestOptions? request = null, CancellationToken ct = default)
    {
        var ping = await transport.SendAsync<PingBody>(HttpMethod.Post, WebhookPath(webhookId) + "/ping", null, request, ct).ConfigureAwait(false);
        return ping.EventId;
    }

    /// <summary>Lists the recent delivery attempts to a subscription.</summary>
    /// <param name="webhookId">Subscription id (<c>whk_…</c>).</param>
    /// <param name="ct">Cancels the call.</param>
    public Task<WebhookDeliveryAttempt[]> ListWebhookDeliveriesAsync(string webhookId, CancellationToken ct = default)
        => transport.SendAsync<WebhookDeliveryAttempt[]>(HttpMethod.Get, WebhookPath(webhookId) + "/deliveries", null, null, ct);

    /// <inheritdoc />
    public void Dispose() => transport.Dispose();

    private static string WebhookPath(string webhookId)
    {
        ArgumentException.ThrowIfNullOrEmpty(webhookId);
        return Webhooks + "/" + Uri.EscapeDataString(webhookId);
    }

    private sealed record CreateWebhookBody(string Url, string[] Events, string? Description);

    private sealed record PingBody(string EventId);

    private static string Route(string route, string customerItemId, string? authenticationId = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(customerItemId);
        return ApiRoutes.Format(route, customerItemId, authenticationId);
    }

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    internal static string Query(params (string Name, string? Value)[] parameters)
    {
        var parts = parameters.Where(p => p.Value is not null).Select(p => p.Name + "=" + Uri.EscapeDataString(p.Value!)).ToArray();
        return parts.Length == 0 ? "" : "?" + string.Join('&', parts);
    }
}
