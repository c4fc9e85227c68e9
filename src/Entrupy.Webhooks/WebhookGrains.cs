using Microsoft.Extensions.Logging;
using Orleans;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Webhooks;

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

/// <summary>Snapshot of <see cref="WebhookOutboxGrain"/>: the pending deliveries, and how much of the journal it includes.</summary>
internal sealed class OutboxState : IJournaledSnapshot
{
    public List<OutboxEntry> Pending { get; set; } = [];

    /// <inheritdoc />
    public long Sequence { get; set; }
}

/// <summary>One change to the outbox as its journal records it: entries queued, one rescheduled (an attempt more), or one removed.</summary>
internal sealed record OutboxChange(OutboxEntry[]? Enqueued = null, string? Rescheduled = null, DateTimeOffset? NextAttemptAt = null, string? Removed = null);

/// <summary>
/// The outbox keeps its pending list as a snapshot plus a journal of changes (<see cref="JournaledState{TState,TChange}"/>):
/// while a receiver is down the list grows with every event, and rewriting all of it on each enqueue, retry and
/// removal made every write as large as the backlog.
/// </summary>
[GrainType("webhookoutbox")]
internal sealed class WebhookOutboxGrain([PersistentState("outbox")] IPersistentState<OutboxState> state, ILogger<WebhookOutboxGrain> logger)
    : Grain, IWebhookOutboxGrain
{
    public const string Key = "global";

    /// <summary>Grain type of the journal records in the grain storage.</summary>
    internal const string JournalGrainType = "webhookoutboxjournal";

    private readonly DueLeases<OutboxEntry> leases = new(e => e.Id, e => e.NextAttemptAt);
    private JournaledState<OutboxState, OutboxChange> journal = null!;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        journal = new(state, ServiceProvider.GetRecordStore(), JournalGrainType,
            this.GetPrimaryKeyString(), Apply, DeactivateOnIdle, logger);
        return journal.ActivateAsync(cancellationToken);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => journal.DeactivateAsync();

    public Task Enqueue(OutboxEntry[] entries) =>
        entries.Length == 0 ? Task.CompletedTask : journal.ChangeAsync(new OutboxChange(Enqueued: entries));

    public Task<OutboxEntry[]> LeaseDue(DateTimeOffset now, int max, TimeSpan leaseFor) =>
        Task.FromResult(leases.LeaseDue(state.State.Pending, now, max, leaseFor));

    public Task Reschedule(string entryId, DateTimeOffset nextAttemptAt)
    {
        leases.Release(entryId);
        return state.State.Pending.Exists(e => e.Id == entryId)
            ? journal.ChangeAsync(new OutboxChange(Rescheduled: entryId, NextAttemptAt: nextAttemptAt))
            : Task.CompletedTask;
    }

    public Task Remove(string entryId)
    {
        leases.Release(entryId);
        return state.State.Pending.Exists(e => e.Id == entryId) ? journal.ChangeAsync(new OutboxChange(Removed: entryId)) : Task.CompletedTask;
    }

    public Task<int> Count() => Task.FromResult(state.State.Pending.Count);

    private void Apply(OutboxChange change)
    {
        var pending = state.State.Pending;
        if (change.Enqueued is { } entries) pending.AddRange(entries);
        if (change.Rescheduled is { } id && change.NextAttemptAt is { } at)
        {
            var index = pending.FindIndex(e => e.Id == id);
            if (index >= 0) pending[index] = pending[index] with { Attempts = pending[index].Attempts + 1, NextAttemptAt = at };
        }
        if (change.Removed is { } removed) pending.RemoveAll(e => e.Id == removed);
    }
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
