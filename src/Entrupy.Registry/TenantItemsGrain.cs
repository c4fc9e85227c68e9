using System.Text;
using Microsoft.Extensions.Logging;
using Orleans;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;
using Entrupy.Registry;
using Entrupy.Registry.Api;

namespace Entrupy.Registry;

/// <summary>A change to one item's directory entry; counts only ever grow, so updates may arrive in any order.</summary>
/// <param name="CustomerItemId">The item.</param>
/// <param name="CurrentRegistration">Lineage number of its newest registration, if this change made one.</param>
/// <param name="CustodyEvents">Custody events it holds after this change, if this change added one.</param>
/// <param name="At">When the change happened (UTC); the earliest is kept as the item's creation time.</param>
internal sealed record ItemDirectoryUpdate(string CustomerItemId, int? CurrentRegistration, int? CustodyEvents, DateTimeOffset At);

/// <summary>
/// One bucket of a tenant's item directory (key <c>{tenantId}/{bucket}</c>, see <see cref="TenantItemDirectory"/>):
/// the summaries of the items whose id hashes to this bucket, listed in ordinal id order.
/// </summary>
internal interface ITenantItemsGrain : IGrainWithStringKey
{
    /// <summary>Adds or updates an entry (idempotent: counts take the maximum, creation time the minimum).</summary>
    Task Record(ItemDirectoryUpdate update);

    /// <summary>Up to <paramref name="limit"/> entries with an id ordinally after <paramref name="after"/> (null: from the start).</summary>
    Task<ItemSummary[]> List(string? after, int limit);
}

/// <summary>Snapshot of a <see cref="TenantItemsGrain"/>: every entry, and how much of the journal it includes.</summary>
internal sealed class TenantItemsState : IJournaledSnapshot
{
    public Dictionary<string, ItemSummary> Items { get; set; } = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public long Sequence { get; set; }
}

/// <summary>
/// One directory bucket. Each change is a small journal record (<see cref="JournaledState{TState,TChange}"/>, a few
/// hundred bytes) instead of a rewrite of the whole bucket, which grows with the tenant (~1 MB per registration at
/// 100,000 items).
/// </summary>
[GrainType("tenantitems")]
[CollectionAgeLimit("00:05:00")]
internal sealed class TenantItemsGrain([PersistentState("tenantitems")] IPersistentState<TenantItemsState> state, ILogger<TenantItemsGrain> logger)
    : Grain, ITenantItemsGrain
{
    /// <summary>Grain type of the journal records in the grain storage.</summary>
    internal const string JournalGrainType = "tenantitemsjournal";

    // Rebuilt on activation; the stored dictionary has no order of its own.
    private readonly List<string> sortedIds = [];
    private JournaledState<TenantItemsState, ItemDirectoryUpdate> journal = null!;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        journal = new(state, ServiceProvider.GetRecordStore(), JournalGrainType,
            this.GetPrimaryKeyString(), Apply, DeactivateOnIdle, logger);
        sortedIds.AddRange(state.State.Items.Keys);
        sortedIds.Sort(StringComparer.Ordinal);
        return journal.ActivateAsync(cancellationToken);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => journal.DeactivateAsync();

    public Task Record(ItemDirectoryUpdate update)
    {
        var known = state.State.Items.TryGetValue(update.CustomerItemId, out var current);
        return known && Merge(current, update) == current ? Task.CompletedTask : journal.ChangeAsync(update);
    }

    public Task<ItemSummary[]> List(string? after, int limit)
    {
        var start = 0;
        if (after is not null)
        {
            var at = sortedIds.BinarySearch(after, StringComparer.Ordinal);
            start = at >= 0 ? at + 1 : ~at;
        }
        var count = Math.Clamp(sortedIds.Count - start, 0, Math.Max(0, limit));
        var page = new ItemSummary[count];
        for (var i = 0; i < count; i++) page[i] = state.State.Items[sortedIds[start + i]];
        return Task.FromResult(page);
    }

    /// <summary>Counts take the maximum, the creation time the minimum: updates may arrive in any order.</summary>
    private static ItemSummary Merge(ItemSummary? current, ItemDirectoryUpdate update)
    {
        var next = current ?? new ItemSummary { CustomerItemId = update.CustomerItemId, CreatedAt = update.At };
        return next with
        {
            CurrentRegistration = Max(next.CurrentRegistration, update.CurrentRegistration),
            CustodyEvents = Math.Max(next.CustodyEvents, update.CustodyEvents ?? 0),
            CreatedAt = update.At < next.CreatedAt ? update.At : next.CreatedAt,
        };
    }

    private void Apply(ItemDirectoryUpdate update)
    {
        var items = state.State.Items;
        var known = items.TryGetValue(update.CustomerItemId, out var current);
        items[update.CustomerItemId] = Merge(current, update);
        if (!known)
        {
            var at = sortedIds.BinarySearch(update.CustomerItemId, StringComparer.Ordinal);
            if (at < 0) sortedIds.Insert(~at, update.CustomerItemId);
        }
    }

    private static int? Max(int? a, int? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);
}

/// <summary>
/// A tenant's item directory, split over <see cref="BucketCount"/> grains by a stable hash of the item id so no single
/// state holds every item of a big tenant. Pages merge the buckets in ordinal id order; the cursor is the last id
/// returned, so items added meanwhile are neither skipped nor repeated (unless they sort before the cursor).
/// </summary>
public sealed class TenantItemDirectory(IGrainFactory grains)
{
    /// <summary>Buckets per tenant. Changing it re-homes entries, so it is fixed.</summary>
    public const int BucketCount = 16;

    private const string CursorPrefix = "v1:";

    /// <summary>Records what changed about an item (null: unchanged); durable when this returns.</summary>
    public Task RecordAsync(ItemKey item, int? currentRegistration, int? custodyEvents, DateTimeOffset at) =>
        Bucket(item.TenantId, IndexSharding.ShardOf(item.CustomerItemId, BucketCount))
            .Record(new ItemDirectoryUpdate(item.CustomerItemId, currentRegistration, custodyEvents, at));

    /// <summary>One page of the tenant's items, in ordinal id order.</summary>
    public async Task<ItemPage> ListAsync(string tenantId, string? after, int limit)
    {
        // One more than asked from each bucket: if more than limit come back in total, another page exists.
        var pages = await Task.WhenAll(Enumerable.Range(0, BucketCount).Select(b => Bucket(tenantId, b).List(after, limit + 1)));
        var merged = pages.SelectMany(p => p).OrderBy(s => s.CustomerItemId, StringComparer.Ordinal).Take(limit + 1).ToArray();
        var items = merged.Take(limit).ToArray();
        return new ItemPage
        {
            Items = items,
            NextCursor = merged.Length > limit ? EncodeCursor(items[^1].CustomerItemId) : null,
        };
    }

    /// <summary>The customer_item_id a cursor continues after; null when the cursor is not one this API issued.</summary>
    public static string? DecodeCursor(string cursor)
    {
        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(padded));
            return text.StartsWith(CursorPrefix, StringComparison.Ordinal) && ItemKey.IsValidCustomerItemId(text[CursorPrefix.Length..])
                ? text[CursorPrefix.Length..]
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The opaque cursor that continues after <paramref name="customerItemId"/>.</summary>
    public static string EncodeCursor(string customerItemId) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(CursorPrefix + customerItemId)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private ITenantItemsGrain Bucket(string tenantId, int bucket) =>
        grains.GetGrain<ITenantItemsGrain>(tenantId + "/" + bucket.ToString("00", System.Globalization.CultureInfo.InvariantCulture));
}
