using Entrupy.Grains;
using Entrupy.Grains.Persistence;

namespace Entrupy.Silo.Webhooks;

/// <summary>A delivery waiting in the outbox. The body is fixed at publish time, so every attempt sends the same bytes.</summary>
internal sealed record OutboxEntry(string Id, string TenantId, string SubscriptionId, string EventId, string Kind, string Body,
    int Attempts, DateTimeOffset NextAttemptAt, DateTimeOffset CreatedAt);

/// <summary>One attempt, as the delivery log shows it.</summary>
internal sealed record DeliveryAttempt(string DeliveryId, string EventId, string Kind, int Attempt, DateTimeOffset At, bool Succeeded,
    int? StatusCode, string? Error, double DurationMs, DateTimeOffset? NextAttemptAt);

/// <summary>
/// The durable webhook outbox: entries are written before PublishAsync returns and removed only after a delivery
/// succeeded or was given up, so a silo restart loses none. One grain for the cluster (key <c>"global"</c>);
/// leases keep two dispatchers from sending the same entry at once.
/// </summary>
internal interface IWebhookOutboxGrain : IGrainWithStringKey
{
    Task Enqueue(OutboxEntry[] entries);
    Task<OutboxEntry[]> LeaseDue(DateTimeOffset now, int max, TimeSpan leaseFor);
    Task Reschedule(string entryId, DateTimeOffset nextAttemptAt);
    Task Remove(string entryId);
    Task<int> Count();
}

/// <summary>Durable state of <see cref="WebhookOutboxGrain"/>.</summary>
internal sealed class OutboxState
{
    public List<OutboxEntry> Pending { get; set; } = [];
}

[GrainType("webhookoutbox")]
internal sealed class WebhookOutboxGrain([PersistentState("outbox")] IPersistentState<OutboxState> state) : Grain, IWebhookOutboxGrain
{
    public const string Key = "global";
    private readonly Dictionary<string, DateTimeOffset> leasedUntil = [];

    public async Task Enqueue(OutboxEntry[] entries)
    {
        if (entries.Length == 0) return;
        state.State.Pending.AddRange(entries);
        await state.WriteStateAsync();
    }

    public Task<OutboxEntry[]> LeaseDue(DateTimeOffset now, int max, TimeSpan leaseFor)
    {
        var due = state.State.Pending
            .Where(e => e.NextAttemptAt <= now && (!leasedUntil.TryGetValue(e.Id, out var until) || until <= now))
            .OrderBy(e => e.NextAttemptAt)
            .Take(max)
            .ToArray();
        foreach (var e in due) leasedUntil[e.Id] = now + leaseFor;
        return Task.FromResult(due);
    }

    public async Task Reschedule(string entryId, DateTimeOffset nextAttemptAt)
    {
        leasedUntil.Remove(entryId);
        var index = state.State.Pending.FindIndex(e => e.Id == entryId);
        if (index < 0) return;
        var entry = state.State.Pending[index];
        state.State.Pending[index] = entry with { Attempts = entry.Attempts + 1, NextAttemptAt = nextAttemptAt };
        await state.WriteStateAsync();
    }

    public async Task Remove(string entryId)
    {
        leasedUntil.Remove(entryId);
        if (state.State.Pending.RemoveAll(e => e.Id == entryId) > 0) await state.WriteStateAsync();
    }

    public Task<int> Count() => Task.FromResult(state.State.Pending.Count);
}

/// <summary>Every attempt to deliver to one subscription, newest last, bounded. Keyed by subscription id.</summary>
internal interface IDeliveryLogGrain : IGrainWithStringKey
{
    Task Append(DeliveryAttempt attempt, int keep);
    Task<DeliveryAttempt[]> List();
}

/// <summary>Durable state of <see cref="DeliveryLogGrain"/>.</summary>
internal sealed class DeliveryLogState
{
    public List<DeliveryAttempt> Attempts { get; set; } = [];
}

[GrainType("deliverylog")]
internal sealed class DeliveryLogGrain([PersistentState("deliveries")] IPersistentState<DeliveryLogState> state) : Grain, IDeliveryLogGrain
{
    public async Task Append(DeliveryAttempt attempt, int keep)
    {
        state.State.Attempts.Add(attempt);
        if (state.State.Attempts.Count > keep) state.State.Attempts.RemoveRange(0, state.State.Attempts.Count - keep);
        await state.WriteStateAsync();
    }

    public Task<DeliveryAttempt[]> List() => Task.FromResult(state.State.Attempts.ToArray());
}
