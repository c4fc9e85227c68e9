using System.Globalization;
using System.Text;
using System.Text.Json;
using Entrupy.Grains;
using Entrupy.Grains.Persistence;
using Entrupy.Registry;
using Entrupy.Registry.Api;

namespace Entrupy.Silo.Items;

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
internal sealed class TenantItemsState
{
    public Dictionary<string, ItemSummary> Items { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Last journal sequence included (0 for none; snapshots written before the journal existed have none).</summary>
    public long Sequence { get; set; }
}

/// <summary>
/// One directory bucket. Each change is a small write-once journal record
/// (<c>tenantitemsjournal/{tenant}/{bucket}/{sequence:D12}</c>, a few hundred bytes) instead of a rewrite of the whole
/// bucket, which grows with the tenant (~1 MB per registration at 100,000 items). Every
/// <see cref="SnapshotEvery"/> changes, and on deactivation, the bucket is snapshotted into its persistent state and
/// the journal it covers deleted; activation loads the snapshot and replays the journal after it.
/// </summary>
[GrainType("tenantitems")]
[CollectionAgeLimit("00:05:00")]
internal sealed class TenantItemsGrain([PersistentState("tenantitems")] IPersistentState<TenantItemsState> state, ILogger<TenantItemsGrain> logger)
    : Grain, ITenantItemsGrain
{
    /// <summary>Journal records between snapshots.</summary>
    internal const int SnapshotEvery = 256;

    /// <summary>Grain type of the journal records in the grain storage.</summary>
    internal const string JournalGrainType = "tenantitemsjournal";

    private static readonly JsonSerializerOptions JournalJson = new(JsonSerializerDefaults.Web);

    // Rebuilt on activation; the stored dictionary has no order of its own.
    private readonly List<string> sortedIds = [];
    private readonly Dictionary<long, string> journalETags = [];
    private IGrainStorage storage = null!;
    private long sequence; // last journal record applied

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        storage = ServiceProvider.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default);
        sequence = state.State.Sequence;
        sortedIds.AddRange(state.State.Items.Keys);
        sortedIds.Sort(StringComparer.Ordinal);
        while (await storage.ReadAsync(JournalKey(sequence + 1), cancellationToken) is { } record)
        {
            Apply(JsonSerializer.Deserialize<ItemDirectoryUpdate>(record.Data.Span, JournalJson)
                  ?? throw new InvalidDataException($"{JournalKey(sequence + 1)} holds no directory update."));
            journalETags[++sequence] = record.ETag;
        }
        // Records the snapshot already includes are left over from a clean-up a crash cut short.
        for (var s = state.State.Sequence; s > 0 && await storage.ReadAsync(JournalKey(s), cancellationToken) is { } leftover; s--)
            await storage.ClearAsync(JournalKey(s), leftover.ETag, cancellationToken);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (sequence == state.State.Sequence) return;
        try
        {
            await SnapshotAsync();
        }
        catch (Exception ex)
        {
            // Nothing is lost: the journal still holds every change.
            logger.LogWarning(ex, "Directory bucket {Bucket}: snapshot on deactivation failed; its journal will be replayed", GetPrimaryKeyString());
        }
    }

    public async Task Record(ItemDirectoryUpdate update)
    {
        var items = state.State.Items;
        var known = items.TryGetValue(update.CustomerItemId, out var current);
        if (known && Merge(current, update) == current) return;

        // Durable before it is applied: a failed write leaves memory as storage has it (a write whose outcome is
        // unknown is replayed by the next activation if it landed, which gives the same entry).
        var next = sequence + 1;
        string etag;
        try
        {
            etag = await storage.WriteAsync(JournalKey(next), JsonSerializer.SerializeToUtf8Bytes(update, JournalJson), expectedETag: null);
        }
        catch
        {
            DeactivateOnIdle();
            throw;
        }
        journalETags[next] = etag;
        sequence = next;
        Apply(update);
        if (sequence - state.State.Sequence >= SnapshotEvery)
        {
            try
            {
                await SnapshotAsync();
            }
            catch (Exception ex)
            {
                // The change itself is durable in the journal; a fresh activation snapshots again.
                logger.LogWarning(ex, "Directory bucket {Bucket}: snapshot failed; its journal will be replayed", GetPrimaryKeyString());
                DeactivateOnIdle();
            }
        }
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

    private GrainStateKey JournalKey(long number) =>
        new(JournalGrainType, GetPrimaryKeyString() + "/" + number.ToString("D12", CultureInfo.InvariantCulture), "entry");

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

    /// <summary>Writes every entry with the journal position it covers, then deletes the journal records it includes.</summary>
    private async Task SnapshotAsync()
    {
        var from = state.State.Sequence + 1;
        state.State.Sequence = sequence;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State.Sequence = from - 1;
            throw;
        }
        // All at once: the store commits them together instead of one durable delete after another in this turn.
        // A crash part-way leaves some covered records behind; they are never replayed (activation starts after the
        // snapshot) and the next activation deletes those just below it.
        var deletes = new List<Task>(SnapshotEvery);
        for (var s = from; s <= sequence; s++)
        {
            if (journalETags.Remove(s, out var etag)) deletes.Add(storage.ClearAsync(JournalKey(s), etag));
        }
        await Task.WhenAll(deletes);
    }

    private static int? Max(int? a, int? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);
}

/// <summary>
/// A tenant's item directory, split over <see cref="BucketCount"/> grains by a stable hash of the item id so no single
/// state holds every item of a big tenant. Pages merge the buckets in ordinal id order; the cursor is the last id
/// returned, so items added meanwhile are neither skipped nor repeated (unless they sort before the cursor).
/// </summary>
internal sealed class TenantItemDirectory(IGrainFactory grains)
{
    /// <summary>Buckets per tenant. Changing it re-homes entries, so it is fixed.</summary>
    public const int BucketCount = 16;

    private const string CursorPrefix = "v1:";

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
