using System.Security.Cryptography;
using Entrupy.Fingerprinting;
using Orleans;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Entrupy.Registry.Index;

/// <summary>
/// One shard of the 1:N index (see <see cref="IIndexShardGrain"/>). Every update is a write-once journal record,
/// durable before it is applied and before the call returns; every <see cref="RegistryOptions.SnapshotEveryUpdates"/>
/// updates (and on deactivation) the whole shard is written as a chunked snapshot and the journal it covers deleted.
/// The periodic snapshot is serialized in a turn but stored in the background, so updates keep flowing meanwhile.
/// Activation loads the latest snapshot and replays the journal after it up to the first missing sequence.
/// </summary>
[GrainType("indexshard")]
internal sealed class IndexShardGrain(ILogger<IndexShardGrain> logger) : Grain, IIndexShardGrain
{
    private const int MaxK = 10_000;

    private readonly Dictionary<long, string> journalETags = [];
    private RegistryOptions options = RegistryOptions.Default;
    private IndexShardStorage store = null!;
    private ShardIndex index = null!;   // set by OnActivateAsync; null only if that failed early
    private int shard;
    private long sequence;
    private SnapshotHead? head;
    private string? headETag;
    private long snapshotBytes;
    private long trimmedThrough;
    private IGrainTimer? snapshotTimer;
    private Task<StoredSnapshot>? snapshotInFlight;   // a periodic snapshot being stored outside the grain's turns
    private IGrainTimer? snapshotPoll;
    private bool faulted;

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        options = ServiceProvider.GetService<RegistryOptions>() ?? RegistryOptions.Default;
        var key = this.GetPrimaryKeyLong();
        if (key < 0 || key >= options.ShardCount)
            throw new ArgumentOutOfRangeException(nameof(key), key, $"Index shard numbers run from 0 to {options.ShardCount - 1}.");
        shard = (int)key;
        var dimension = ServiceProvider.GetRequiredService<FingerprintModel>().GlobalVectorLength;
        store = new IndexShardStorage(ServiceProvider.GetRecordStore(), shard);

        (head, headETag) = await store.ReadHeadAsync(cancellationToken);
        if (head is null)
        {
            index = new ShardIndex(dimension);
        }
        else
        {
            var data = await store.ReadSnapshotAsync(head, cancellationToken);
            (index, sequence) = ShardIndex.Deserialize(data, shard, dimension);
            if (sequence != head.Sequence)
                throw new InvalidDataException($"Index snapshot of shard {shard} covers sequence {sequence}, its head says {head.Sequence}.");
            snapshotBytes = data.Length;
        }

        try
        {
            await foreach (var (record, etag) in store.ReadJournalAsync(sequence + 1, cancellationToken))
            {
                index.Apply(record);
                sequence = record.Sequence;
                journalETags[record.Sequence] = etag;
            }

            trimmedThrough = head?.Sequence ?? 0;
            // The newest covered record is deleted last: if it is still there, the last trim stopped half-way.
            if (head is not null && head.Sequence >= head.TrimFrom && await store.JournalExistsAsync(head.Sequence, cancellationToken))
            {
                trimmedThrough = head.TrimFrom - 1;
                try
                {
                    await TrimAsync(head, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Harmless leftovers: the next snapshot's trim covers them again.
                    logger.LogWarning(ex, "Index shard {Shard}: finishing an interrupted journal trim failed", shard);
                }
            }
        }
        catch
        {
            index.Dispose();
            throw;
        }

        logger.LogDebug("Index shard {Shard} active: {Items} items, sequence {Sequence}, snapshot {Snapshot}",
            shard, index.ItemCount, sequence, head?.Sequence ?? 0);
    }

    /// <inheritdoc />
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (reason.ReasonCode == DeactivationReasonCode.ActivationFailed || index is null) return;   // nothing loaded, nothing to save
        try
        {
            await AdoptSnapshotInFlightAsync();
            // After a failed journal write memory may lag storage; the next activation replays instead.
            if (!faulted && sequence > (head?.Sequence ?? 0)) await SnapshotAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            // Nothing is lost: the journal still holds every update.
            logger.LogWarning(ex, "Index shard {Shard}: snapshot on deactivation failed; the journal will be replayed", shard);
        }
        finally
        {
            index.Dispose();
        }
    }

    /// <inheritdoc />
    public async Task Upsert(IndexEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        CheckItem(entry.TenantId, entry.CustomerItemId);
        if (entry.RegistrationNumber < 1)
            throw new RegistryValidationException("registration_number", entry.RegistrationNumber.ToString(System.Globalization.CultureInfo.InvariantCulture), "registration_number must be at least 1");
        CheckVector(entry.GlobalVector);
        var additional = entry.AdditionalVectors ?? [];
        if (additional.Length > IndexEntry.MaxAdditionalVectors)
            throw new RegistryValidationException("additional_vectors", additional.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), $"an entry carries at most {IndexEntry.MaxAdditionalVectors} additional vectors");
        foreach (var vector in additional) CheckVector(vector);
        if (!index.AcceptsUpsert(entry.TenantId, entry.CustomerItemId, entry.RegistrationNumber)) return;
        await AppendAndApplyAsync(new JournalRecord(sequence + 1, JournalOperation.Upsert, entry.TenantId, entry.CustomerItemId,
            entry.RegistrationNumber, entry.FingerprintReference, [entry.GlobalVector, .. additional]));
    }

    /// <inheritdoc />
    public async Task Remove(string tenantId, string customerItemId)
    {
        CheckItem(tenantId, customerItemId);
        if (!index.Contains(tenantId, customerItemId)) return;
        await AppendAndApplyAsync(new JournalRecord(sequence + 1, JournalOperation.Remove, tenantId, customerItemId, 0, null, null));
    }

    /// <inheritdoc />
    public Task<IndexHit[]> Search(string tenantId, float[] globalVector, int k)
    {
        ItemKey.ValidateTenantId(tenantId);
        CheckVector(globalVector);
        if (k is < 1 or > MaxK)
            throw new RegistryValidationException("k", k.ToString(System.Globalization.CultureInfo.InvariantCulture), $"k must be 1-{MaxK}");
        return Task.FromResult(index.Search(tenantId, globalVector, k));
    }

    /// <inheritdoc />
    public Task<IndexShardStatus> GetStatus() => Task.FromResult(Status());

    /// <inheritdoc />
    public async Task<IndexShardStatus> WriteSnapshot()
    {
        await AdoptSnapshotInFlightAsync();
        if (sequence > (head?.Sequence ?? 0)) await SnapshotAsync(CancellationToken.None);
        else if (head is not null && trimmedThrough < head.Sequence) await TrimAsync(head, CancellationToken.None);
        return Status();
    }

    private IndexShardStatus Status() => new()
    {
        Shard = shard,
        Items = index.ItemCount,
        Vectors = index.VectorCount,
        Tenants = index.TenantCount,
        Sequence = sequence,
        SnapshotSequence = head?.Sequence ?? 0,
        SnapshotBytes = snapshotBytes,
    };

    private async Task AppendAndApplyAsync(JournalRecord record)
    {
        string etag;
        try
        {
            etag = await store.AppendAsync(record, CancellationToken.None);
        }
        catch
        {
            // The write may still have landed (a timeout, a lost reply): only a fresh activation replaying the
            // journal knows, so this one must not take further updates.
            faulted = true;
            DeactivateOnIdle();
            throw;
        }

        index.Apply(record);
        sequence = record.Sequence;
        journalETags[sequence] = etag;
        if (sequence - (head?.Sequence ?? 0) >= options.SnapshotEveryUpdates && snapshotTimer is null && snapshotInFlight is null)
        {
            // A timer turn, so the caller whose update crossed the line does not wait for the serialization; the
            // chunks, head and trim are then written in the background (seconds for a large shard) while updates go on.
            snapshotTimer = this.RegisterGrainTimer(ct =>
            {
                snapshotTimer?.Dispose();
                snapshotTimer = null;
                if (faulted || snapshotInFlight is not null) return Task.CompletedTask;
                try
                {
                    var store = PrepareSnapshot();
                    snapshotInFlight = Task.Run(() => store(CancellationToken.None), CancellationToken.None);
                    snapshotPoll = this.RegisterGrainTimer(_ => snapshotInFlight is { IsCompleted: true } ? AdoptSnapshotInFlightAsync() : Task.CompletedTask,
                        SnapshotPollInterval, SnapshotPollInterval);
                }
                catch (Exception ex)
                {
                    logger.LogWarning(ex, "Index shard {Shard}: snapshot failed; it is retried after the next update", shard);
                }
                return Task.CompletedTask;
            }, TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    private static readonly TimeSpan SnapshotPollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>What a stored snapshot changed: its head (written), the head's ETag, its size and whether the trim finished.</summary>
    private sealed record StoredSnapshot(SnapshotHead Head, string HeadETag, long Bytes, bool Trimmed);

    private async Task SnapshotAsync(CancellationToken cancellationToken) => Adopt(await PrepareSnapshot()(cancellationToken));

    /// <summary>
    /// In a turn: serializes the index and captures what storing it needs, so the returned writer touches no grain
    /// field and may run outside the grain's turns (journal records it covers stay until it has written the head).
    /// </summary>
    private Func<CancellationToken, Task<StoredSnapshot>> PrepareSnapshot()
    {
        var covered = sequence;
        var data = index.Serialize(shard, covered);
        var previous = head;
        var previousETag = headETag;
        var trimFrom = trimmedThrough + 1;
        var etags = journalETags.Where(e => e.Key >= trimFrom && e.Key <= covered).ToDictionary(e => e.Key, e => e.Value);
        var (storage, chunkBytes) = (store, options.SnapshotChunkBytes);
        return async cancellationToken =>
        {
            var obsolete = previous is null ? [] : previous.Obsolete.Append(new SnapshotLocation(previous.Sequence, previous.Chunks)).ToArray();
            var chunks = await storage.WriteChunksAsync(covered, data, chunkBytes, cancellationToken);
            var next = new SnapshotHead(covered, chunks, data.Length, Convert.ToHexStringLower(SHA256.HashData(data)), trimFrom, obsolete);
            var etag = await storage.WriteHeadAsync(next, previousETag, cancellationToken);
            try
            {
                await storage.TrimAsync(next, etags, cancellationToken);
                return new StoredSnapshot(next, etag, data.Length, Trimmed: true);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Harmless leftovers: the next snapshot's trim (or the next activation) covers them again.
                logger.LogWarning(ex, "Index shard {Shard}: trimming the journal after snapshot {Sequence} failed", shard, covered);
                return new StoredSnapshot(next, etag, data.Length, Trimmed: false);
            }
        };
    }

    /// <summary>In a turn: takes over what a stored snapshot wrote.</summary>
    private void Adopt(StoredSnapshot stored)
    {
        headETag = stored.HeadETag;
        head = stored.Head;
        snapshotBytes = stored.Bytes;
        logger.LogDebug("Index shard {Shard}: snapshot at sequence {Sequence}, {Bytes} bytes in {Chunks} chunks", shard, stored.Head.Sequence, stored.Bytes, stored.Head.Chunks);
        if (!stored.Trimmed) return;
        for (var s = stored.Head.TrimFrom; s <= stored.Head.Sequence; s++) journalETags.Remove(s);
        trimmedThrough = stored.Head.Sequence;
        if (stored.Head.Obsolete.Length > 0) head = stored.Head with { Obsolete = [] };
    }

    /// <summary>In a turn: waits for a periodic snapshot still being stored and takes over its result.</summary>
    private async Task AdoptSnapshotInFlightAsync()
    {
        if (snapshotInFlight is not { } inFlight) return;
        try
        {
            Adopt(await inFlight);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Index shard {Shard}: snapshot failed; it is retried after the next update", shard);
        }
        finally
        {
            snapshotInFlight = null;
            snapshotPoll?.Dispose();
            snapshotPoll = null;
        }
    }

    private async Task TrimAsync(SnapshotHead snapshot, CancellationToken cancellationToken)
    {
        await store.TrimAsync(snapshot, journalETags, cancellationToken);
        for (var s = snapshot.TrimFrom; s <= snapshot.Sequence; s++) journalETags.Remove(s);
        trimmedThrough = snapshot.Sequence;
        // Later heads need not repeat deletions that are done.
        if (snapshot.Obsolete.Length > 0 && ReferenceEquals(snapshot, head)) head = snapshot with { Obsolete = [] };
    }

    private void CheckItem(string tenantId, string customerItemId)
    {
        ItemKey.ValidateTenantId(tenantId);
        ItemKey.ValidateCustomerItemId(customerItemId);
        var owner = IndexSharding.ShardOf(customerItemId, options.ShardCount);
        if (owner != shard)
            throw new ArgumentException($"Item '{customerItemId}' belongs to index shard {owner} of {options.ShardCount}, not to shard {shard}.", nameof(customerItemId));
    }

    private void CheckVector(float[] vector)
    {
        ArgumentNullException.ThrowIfNull(vector);
        if (vector.Length != index.Dimension)
            throw new RegistryValidationException("global_vector", vector.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), $"a global vector must have {index.Dimension} values");
        foreach (var value in vector)
        {
            if (!float.IsFinite(value)) throw new RegistryValidationException("global_vector", null, "global vector values must be finite");
        }
    }
}
