using System.Text.Json;
using Entrupy.Registry.Api;

namespace Entrupy.Client;

/// <summary>Event kinds a webhook subscription can ask for.</summary>
public static class WebhookEvents
{
    /// <summary>An item's fingerprint was registered.</summary>
    public const string RegistrationCompleted = "registration.completed";

    /// <summary>A 1:1 compare finished.</summary>
    public const string ComparisonCompleted = "comparison.completed";

    /// <summary>An authentication reached a verdict (or needs review).</summary>
    public const string AuthenticationFinished = "authentication.finished";

    /// <summary>A custody event was recorded.</summary>
    public const string CustodyEventAdded = "custody.event_added";

    /// <summary>Sent only by <see cref="EntrupyClient.PingWebhookAsync"/>; cannot be subscribed to.</summary>
    public const string Ping = "webhook.ping";

    /// <summary>Every kind that can be subscribed to.</summary>
    public static IReadOnlyList<string> All { get; } = [RegistrationCompleted, ComparisonCompleted, AuthenticationFinished, CustodyEventAdded];
}

/// <summary>A webhook subscription; <see cref="Secret"/> is set only in the answer to <see cref="EntrupyClient.CreateWebhookAsync"/>.</summary>
/// <param name="Id">Subscription id (<c>whk_…</c>).</param>
/// <param name="Url">Receiver URL.</param>
/// <param name="Events">Subscribed event kinds (see <see cref="WebhookEvents"/>).</param>
/// <param name="Description">Label.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="Secret">The signing secret for <see cref="WebhookVerifier"/>: shown once, store it safely.</param>
public sealed record WebhookInfo(string Id, string Url, string[] Events, string? Description, DateTimeOffset CreatedAt, string? Secret = null);

/// <summary>One attempt to deliver an event to a subscription.</summary>
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
public sealed record WebhookDeliveryAttempt(string DeliveryId, string EventId, string Kind, int Attempt, DateTimeOffset At, bool Succeeded,
    int? StatusCode, string? Error, double DurationMs, DateTimeOffset? NextAttemptAt);

/// <summary>The body of a webhook delivery.</summary>
/// <param name="Id">Event id (<c>evt_…</c>), stable across retries: de-duplicate on it.</param>
/// <param name="Type">Event kind (see <see cref="WebhookEvents"/>).</param>
/// <param name="CreatedAt">When the event was published.</param>
/// <param name="TenantId">The tenant.</param>
/// <param name="Data">The event's data (snake_case members, e.g. <c>customer_item_id</c>).</param>
public sealed record WebhookEvent(string Id, string Type, DateTimeOffset CreatedAt, string TenantId, JsonElement Data)
{
    /// <summary>Parses a delivery body. Verify it with <see cref="WebhookVerifier"/> first.</summary>
    /// <param name="body">The body bytes.</param>
    /// <exception cref="JsonException">The body is not a webhook event.</exception>
    public static WebhookEvent Parse(ReadOnlySpan<byte> body)
        => JsonSerializer.Deserialize<WebhookEvent>(body, ApiJson.Options) ?? throw new JsonException("The webhook body is null.");
}
