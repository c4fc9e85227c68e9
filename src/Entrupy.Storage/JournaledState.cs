using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Entrupy.Storage;

/// <summary>A grain's snapshot state that says how much of its journal it already includes.</summary>
public interface IJournaledSnapshot
{
    /// <summary>Last journal sequence included (0: none; states written before the grain had a journal load as 0).</summary>
    long Sequence { get; set; }
}

/// <summary>
/// A grain's state kept as a snapshot plus a journal of changes since, for state that grows (a tenant's item
/// directory, the webhook outbox) and would otherwise be rewritten whole on every change. A change is one small
/// write-once record (<c>{journalGrainType}/{grain key}/{sequence:D12}</c>); every <see cref="SnapshotEvery"/> changes,
/// and when the grain deactivates, the whole state is written as the snapshot (the grain's persistent state, with
/// the sequence it covers) and the records it covers are deleted together. Activation loads the snapshot and replays
/// the records after it.
/// </summary>
/// <remarks>
/// Not thread-safe: one per activation, used from the grain's turns only. A change is durable before it is applied,
/// so memory never runs ahead of storage; a failed journal write asks the grain to deactivate (a write whose outcome
/// was unknown is replayed by the next activation if it landed). A crash while deleting covered records leaves some
/// behind: they are never replayed (replay starts after the snapshot), and the next activation deletes those just
/// below the snapshot.
/// </remarks>
public sealed partial class JournaledState<TState, TChange>
    where TState : class, IJournaledSnapshot, new()
{
    /// <summary>Journal records between snapshots.</summary>
    public const int SnapshotEvery = 256;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly IPersistentState<TState> snapshot;
    private readonly RecordStore storage;
    private readonly string journalGrainType;
    private readonly string grainKey;
    private readonly Action<TChange> apply;
    private readonly Action deactivate;
    private readonly ILogger logger;
    private readonly Dictionary<long, string> etags = [];
    private long sequence; // last change applied

    /// <param name="snapshot">The grain's persistent state: the snapshot.</param>
    /// <param name="storage">Where the journal records go (the grain storage the snapshot uses).</param>
    /// <param name="journalGrainType">Grain type name of the journal records.</param>
    /// <param name="grainKey">The grain's key.</param>
    /// <param name="apply">Applies one change to <see cref="State"/>; deterministic, as replay calls it again.</param>
    /// <param name="deactivate">The grain's DeactivateOnIdle, for when memory can no longer be trusted to match storage.</param>
    /// <param name="logger">For snapshots that fail (nothing is lost: the journal still holds the changes).</param>
    public JournaledState(IPersistentState<TState> snapshot, RecordStore storage, string journalGrainType, string grainKey,
        Action<TChange> apply, Action deactivate, ILogger logger)
    {
        this.snapshot = snapshot;
        this.storage = storage;
        this.journalGrainType = journalGrainType;
        this.grainKey = grainKey;
        this.apply = apply;
        this.deactivate = deactivate;
        this.logger = logger;
    }

    /// <summary>The state: the snapshot with every change since applied.</summary>
    public TState State => snapshot.State;

    /// <summary>Replays the journal after the snapshot (call from OnActivateAsync, after building any index of the snapshot).</summary>
    public async Task ActivateAsync(CancellationToken cancellationToken)
    {
        sequence = snapshot.State.Sequence;
        while (await storage.ReadAsync(Key(sequence + 1), cancellationToken) is { } record)
        {
            apply(JsonSerializer.Deserialize<TChange>(record.Data.Span, Json)
                  ?? throw new InvalidDataException($"{Key(sequence + 1)} holds no change."));
            etags[++sequence] = record.ETag;
        }
        for (var s = snapshot.State.Sequence; s > 0 && await storage.ReadAsync(Key(s), cancellationToken) is { } leftover; s--)
            await storage.ClearAsync(Key(s), leftover.ETag, cancellationToken);
    }

    /// <summary>Makes a change durable, then applies it; snapshots when <see cref="SnapshotEvery"/> have gathered.</summary>
    public async Task ChangeAsync(TChange change)
    {
        var next = sequence + 1;
        string etag;
        try
        {
            etag = await storage.WriteAsync(Key(next), JsonSerializer.SerializeToUtf8Bytes(change, Json), expectedETag: null);
        }
        catch
        {
            deactivate();
            throw;
        }
        etags[next] = etag;
        sequence = next;
        apply(change);
        if (sequence - snapshot.State.Sequence < SnapshotEvery) return;
        try
        {
            await SnapshotAsync();
        }
        catch (Exception ex)
        {
            // The change itself is durable in the journal; a fresh activation snapshots again.
            LogSnapshotFailed(logger, ex, journalGrainType, grainKey, "after a change");
            deactivate();
        }
    }

    /// <summary>Writes a snapshot if anything changed since the last (call from OnDeactivateAsync); failures are logged.</summary>
    public async Task DeactivateAsync()
    {
        if (sequence == snapshot.State.Sequence) return;
        try
        {
            await SnapshotAsync();
        }
        catch (Exception ex)
        {
            LogSnapshotFailed(logger, ex, journalGrainType, grainKey, "on deactivation");
        }
    }

    private async Task SnapshotAsync()
    {
        var from = snapshot.State.Sequence + 1;
        snapshot.State.Sequence = sequence;
        try
        {
            await snapshot.WriteStateAsync();
        }
        catch
        {
            snapshot.State.Sequence = from - 1;
            throw;
        }
        // All at once: the store commits them together instead of one durable delete after another in this turn.
        var deletes = new List<Task>(SnapshotEvery);
        for (var s = from; s <= sequence; s++)
        {
            if (etags.Remove(s, out var etag)) deletes.Add(storage.ClearAsync(Key(s), etag));
        }
        await Task.WhenAll(deletes);
    }

    private RecordKey Key(long number) =>
        new(journalGrainType, grainKey + "/" + number.ToString("D12", CultureInfo.InvariantCulture), "entry");

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "{Journal} {Key}: snapshot {When} failed; its journal will be replayed")]
    private static partial void LogSnapshotFailed(ILogger logger, Exception exception, string journal, string key, string when);
}
