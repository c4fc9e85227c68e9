using System.Text.Json;
using Orleans;
using Entrupy.Tenancy;

namespace Entrupy.Webhooks;

/// <summary>The event kinds tenants can subscribe to.</summary>
public static class WebhookEventKinds
{
    /// <summary>An item's registration finished.</summary>
    public const string RegistrationCompleted = "registration.completed";
    /// <summary>A comparison finished.</summary>
    public const string ComparisonCompleted = "comparison.completed";
    /// <summary>An authentication finished.</summary>
    public const string AuthenticationFinished = "authentication.finished";
    /// <summary>A custody event was added to an item.</summary>
    public const string CustodyEventAdded = "custody.event_added";
    /// <summary>Sent by <c>POST /webhooks/{id}/ping</c> to one subscription only; cannot be subscribed to.</summary>
    public const string Ping = "webhook.ping";

    /// <summary>The kinds a subscription may list.</summary>
    public static IReadOnlyList<string> Subscribable { get; } = [RegistrationCompleted, ComparisonCompleted, AuthenticationFinished, CustodyEventAdded];
}

/// <summary>Publishes tenant events to their webhook subscriptions through the durable outbox.</summary>
public interface IWebhookPublisher
{
    /// <summary>
    /// Queues one delivery per subscription of <paramref name="tenantId"/> to <paramref name="kind"/>. Returns once the
    /// deliveries are durable in the outbox (they are sent in the background, with retries).
    /// </summary>
    /// <param name="tenantId">The tenant whose subscriptions receive the event.</param>
    /// <param name="kind">One of <see cref="WebhookEventKinds.Subscribable"/>.</param>
    /// <param name="payload">The event's <c>data</c>, serialized as JSON (snake_case names).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The event id, and how many deliveries were queued.</returns>
    Task<(string EventId, int Deliveries)> PublishAsync(string tenantId, string kind, object payload, CancellationToken cancellationToken = default);
}

/// <summary>Builds the event body once and writes the deliveries to <see cref="IWebhookOutboxGrain"/>.</summary>
internal sealed class WebhookPublisher(IGrainFactory grains, TimeProvider clock) : IWebhookPublisher
{
    internal static readonly JsonSerializerOptions BodyJson = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public async Task<(string EventId, int Deliveries)> PublishAsync(string tenantId, string kind, object payload, CancellationToken cancellationToken = default)
    {
        if (!WebhookEventKinds.Subscribable.Contains(kind)) throw new ArgumentException($"'{kind}' is not a webhook event kind.", nameof(kind));
        var subscriptions = await grains.GetGrain<ITenantGrain>(tenantId).ListSubscriptions();
        return await EnqueueAsync(tenantId, kind, payload, subscriptions.Where(s => s.Events.Contains(kind)));
    }

    /// <summary>Queues a ping to one subscription (the ping endpoint).</summary>
    internal Task<(string EventId, int Deliveries)> PingAsync(string tenantId, WebhookSubscription subscription) =>
        EnqueueAsync(tenantId, WebhookEventKinds.Ping, new { subscription_id = subscription.Id, message = "ping" }, [subscription]);

    private async Task<(string EventId, int Deliveries)> EnqueueAsync(string tenantId, string kind, object payload, IEnumerable<WebhookSubscription> targets)
    {
        var now = clock.GetUtcNow();
        var eventId = ApiKeys.NewId("evt");
        var body = JsonSerializer.Serialize(new { id = eventId, type = kind, created_at = now, tenant_id = tenantId, data = payload }, BodyJson);
        var entries = targets.Select(s => new OutboxEntry(ApiKeys.NewId("dlv"), tenantId, s.Id, eventId, kind, body, 0, now, now)).ToArray();
        await grains.GetGrain<IWebhookOutboxGrain>(WebhookOutboxGrain.Key).Enqueue(entries);
        return (eventId, entries.Length);
    }
}
