using Entrupy.Webhooks;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Orleans;
using Entrupy.Silo.Api;
using Entrupy.Tenancy;

namespace Entrupy.Silo.Webhooks;

/// <summary>Body of <c>POST /webhooks</c>.</summary>
/// <param name="Url">Absolute http(s) URL that receives the POSTs.</param>
/// <param name="Events">Event kinds to receive (see <see cref="WebhookEventKinds.Subscribable"/>).</param>
/// <param name="Description">Optional label.</param>
public sealed record CreateWebhookRequest(string? Url, string[]? Events, string? Description);

/// <summary>A webhook subscription. <see cref="Secret"/> appears only in the creation response.</summary>
/// <param name="Id">Subscription id (<c>whk_…</c>).</param>
/// <param name="Url">Receiver URL.</param>
/// <param name="Events">Subscribed event kinds.</param>
/// <param name="Description">Label.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="Secret">The signing secret: shown once.</param>
public sealed record WebhookResponse(string Id, string Url, string[] Events, string? Description, DateTimeOffset CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Secret);

/// <summary>Answer of <c>POST /webhooks/{id}/ping</c>.</summary>
/// <param name="EventId">The queued event's id.</param>
public sealed record PingResponse(string EventId);

/// <summary>One delivery attempt.</summary>
/// <param name="DeliveryId">The outbox entry (same across retries of one event to one subscription).</param>
/// <param name="EventId">The event.</param>
/// <param name="Kind">The event kind.</param>
/// <param name="Attempt">1 for the first attempt.</param>
/// <param name="At">When the attempt started.</param>
/// <param name="Succeeded">Whether the receiver answered 2xx.</param>
/// <param name="StatusCode">The receiver's status, if it answered.</param>
/// <param name="Error">Why it failed.</param>
/// <param name="DurationMs">How long the attempt took.</param>
/// <param name="NextAttemptAt">When it will be retried; null when done or given up.</param>
public sealed record DeliveryAttemptResponse(string DeliveryId, string EventId, string Kind, int Attempt, DateTimeOffset At, bool Succeeded,
    int? StatusCode, string? Error, double DurationMs, DateTimeOffset? NextAttemptAt);

/// <summary>Tenant webhook subscriptions, their ping and delivery log.</summary>
internal static class WebhookEndpoints
{
    public static void MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        var hooks = app.MapGroup("/webhooks")
            .RequireAuthorization(ApiAuth.TenantPolicy)
            .RequireIdempotencyKey()
            .WithTags("webhooks");

        hooks.MapPost("/", async Task<IResult> (CreateWebhookRequest request, ClaimsPrincipal user, IGrainFactory grains, TimeProvider clock) =>
        {
            if (!Uri.TryCreate(request.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps) || request.Url!.Length > 2000)
                throw new ApiException(ApiErrorKind.InvalidRequest, "'url' must be an absolute http or https URL.");
            var events = (request.Events ?? []).Distinct(StringComparer.Ordinal).ToArray();
            if (events.Length == 0 || events.Any(e => !WebhookEventKinds.Subscribable.Contains(e)))
                throw new ApiException(ApiErrorKind.InvalidRequest, "'events' must list one or more of: " + string.Join(", ", WebhookEventKinds.Subscribable) + ".");
            var subscription = new WebhookSubscription(ApiKeys.NewId("whk"), url.AbsoluteUri, events, ApiKeys.NewWebhookSecret(),
                request.Description?.Trim() is { Length: > 0 and <= 500 } d ? d : null, clock.GetUtcNow());
            await grains.GetGrain<ITenantGrain>(user.TenantId()).AddSubscription(subscription);
            return TypedResults.Created($"/webhooks/{subscription.Id}", ToResponse(subscription) with { Secret = subscription.Secret });
        }).WithName("CreateWebhook").Produces<WebhookResponse>(StatusCodes.Status201Created);

        hooks.MapGet("/", async (ClaimsPrincipal user, IGrainFactory grains) =>
            TypedResults.Ok((await grains.GetGrain<ITenantGrain>(user.TenantId()).ListSubscriptions()).Select(ToResponse).ToArray()))
            .WithName("ListWebhooks");

        hooks.MapGet("/{webhookId}", async (string webhookId, ClaimsPrincipal user, IGrainFactory grains) =>
            TypedResults.Ok(ToResponse(await RequireSubscriptionAsync(grains, user, webhookId)))).WithName("GetWebhook");

        hooks.MapDelete("/{webhookId}", async (string webhookId, ClaimsPrincipal user, IGrainFactory grains) =>
        {
            await RequireSubscriptionAsync(grains, user, webhookId);
            await grains.GetGrain<ITenantGrain>(user.TenantId()).RemoveSubscription(webhookId);
            return TypedResults.NoContent();
        }).WithName("DeleteWebhook");

        hooks.MapPost("/{webhookId}/ping", async Task<IResult> (string webhookId, ClaimsPrincipal user, IGrainFactory grains, WebhookPublisher publisher) =>
        {
            var subscription = await RequireSubscriptionAsync(grains, user, webhookId);
            var (eventId, _) = await publisher.PingAsync(user.TenantId(), subscription);
            return TypedResults.Accepted($"/webhooks/{webhookId}/deliveries", new PingResponse(eventId));
        }).WithName("PingWebhook").Produces<PingResponse>(StatusCodes.Status202Accepted);

        hooks.MapGet("/{webhookId}/deliveries", async (string webhookId, ClaimsPrincipal user, IGrainFactory grains) =>
        {
            await RequireSubscriptionAsync(grains, user, webhookId);
            var attempts = await grains.GetGrain<IDeliveryLogGrain>(webhookId).List();
            return TypedResults.Ok(attempts.Select(a => new DeliveryAttemptResponse(a.DeliveryId, a.EventId, a.Kind, a.Attempt, a.At, a.Succeeded,
                a.StatusCode, a.Error, a.DurationMs, a.NextAttemptAt)).ToArray());
        }).WithName("ListWebhookDeliveries");
    }

    // Another tenant's subscription is simply not found: ids are never confirmed across tenants.
    private static async Task<WebhookSubscription> RequireSubscriptionAsync(IGrainFactory grains, ClaimsPrincipal user, string webhookId)
    {
        if (!ApiKeys.IsId(webhookId, "whk")) throw new ApiException(ApiErrorKind.InvalidId, $"'{webhookId}' is not a webhook id (whk_ followed by 16 hex digits).");
        return await grains.GetGrain<ITenantGrain>(user.TenantId()).GetSubscription(webhookId)
            ?? throw new ApiException(ApiErrorKind.NotFound, $"There is no webhook {webhookId}.");
    }

    private static WebhookResponse ToResponse(WebhookSubscription s) => new(s.Id, s.Url, s.Events, s.Description, s.CreatedAt, null);
}
