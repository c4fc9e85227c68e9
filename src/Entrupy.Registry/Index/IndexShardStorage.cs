using System.Security.Cryptography;
using System.Text.Json;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Registry.Index;

/// <summary>
/// Where a snapshot is and what is left to clean up after it. Stored as JSON under <c>indexsnapshot/{shard}/head</c>.
/// </summary>
/// <param name="Sequence">Journal sequence the snapshot covers.</param>
/// <param name="Chunks">Number of chunk records.</param>
/// <param name="Length">Total bytes.</param>
/// <param name="Sha256">Lowercase hex SHA-256 of the whole snapshot, checked when it is read.</param>
/// <param name="TrimFrom">First journal sequence this snapshot makes obsolete (the range up to <see cref="Sequence"/> is deleted after it).</param>
/// <param name="Obsolete">Older snapshots whose chunks are deleted after it: (sequence, chunk count).</param>
internal sealed record SnapshotHead(long Sequence, int Chunks, long Length, string Sha256, long TrimFrom, SnapshotLocation[] Obsolete);

/// <summary>An older snapshot's chunks.</summary>
/// <param name="Sequence">Its sequence.</param>
/// <param name="Chunks">Its chunk count.</param>
internal sealed record SnapshotLocation(long Sequence, int Chunks);

/// <summary>
/// The durable records of one index shard in the raw grain storage:
/// journal <c>indexjournal/{shard}/{sequence:D12}/entry</c> (written once, never rewritten),
/// snapshot chunks <c>indexsnapshot/{shard}/{sequence:D12}/{chunk:D6}/chunk</c> and the head <c>indexsnapshot/{shard}/head</c>.
/// </summary>
internal sealed class IndexShardStorage(RecordStore storage, int shard)
{
    /// <summary>Grain type name of journal records.</summary>
    public const string JournalGrainType = "indexjournal";

    /// <summary>Grain type name of snapshot records.</summary>
    public const string SnapshotGrainType = "indexsnapshot";

    // Deletes and reads run this many at a time: enough to hide storage latency, few enough not to flood it.
    private const int Parallelism = 16;

    public RecordKey JournalKey(long sequence) => new(JournalGrainType, $"{shard}/{sequence:D12}", "entry");

    public RecordKey HeadKey => new(SnapshotGrainType, shard.ToString(System.Globalization.CultureInfo.InvariantCulture), "head");

    public RecordKey ChunkKey(long sequence, int chunk) => new(SnapshotGrainType, $"{shard}/{sequence:D12}/{chunk:D6}", "chunk");

    /// <summary>Writes a journal record; it must not exist yet. Durable when this returns; returns its ETag.</summary>
    public Task<string> AppendAsync(JournalRecord record, CancellationToken cancellationToken) =>
        storage.WriteAsync(JournalKey(record.Sequence), record.ToBytes(), expectedETag: null, cancellationToken);

    /// <summary>Whether the journal record exists.</summary>
    public async Task<bool> JournalExistsAsync(long sequence, CancellationToken cancellationToken) =>
        await storage.ReadAsync(JournalKey(sequence), cancellationToken) is not null;

    /// <summary>
    /// Reads journal records from <paramref name="first"/> on, in order, up to the first missing sequence
    /// (read ahead in small parallel batches).
    /// </summary>
    public async IAsyncEnumerable<(JournalRecord Record, string ETag)> ReadJournalAsync(long first, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var start = first; ; start += Parallelism)
        {
            var batch = await Task.WhenAll(Enumerable.Range(0, Parallelism)
                .Select(i => storage.ReadAsync(JournalKey(start + i), cancellationToken)));
            for (var i = 0; i < batch.Length; i++)
            {
                if (batch[i] is not { } stored) yield break;
                var record = JournalRecord.FromBytes(stored.Data);
                if (record.Sequence != start + i)
                    throw new InvalidDataException($"Index journal record {JournalKey(start + i)} holds sequence {record.Sequence}.");
                yield return (record, stored.ETag);
            }
        }
    }

    /// <summary>Reads the snapshot head and its ETag; nulls when no snapshot was written yet.</summary>
    public async Task<(SnapshotHead? Head, string? ETag)> ReadHeadAsync(CancellationToken cancellationToken)
    {
        if (await storage.ReadAsync(HeadKey, cancellationToken) is not { } stored) return (null, null);
        var head = JsonSerializer.Deserialize<SnapshotHead>(stored.Data.Span)
                   ?? throw new InvalidDataException($"{HeadKey} holds no snapshot head.");
        return (head, stored.ETag);
    }

    /// <summary>Reads and verifies the snapshot <paramref name="head"/> points to.</summary>
    /// <exception cref="InvalidDataException">A chunk is missing or the bytes do not match the head's length and hash.</exception>
    public async Task<byte[]> ReadSnapshotAsync(SnapshotHead head, CancellationToken cancellationToken)
    {
        var chunks = new StoredRecord?[head.Chunks];
        await Parallel.ForEachAsync(Enumerable.Range(0, head.Chunks),
            new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken },
            async (i, ct) => chunks[i] = await storage.ReadAsync(ChunkKey(head.Sequence, i), ct));
        var data = new byte[head.Length];
        var position = 0;
        for (var i = 0; i < chunks.Length; i++)
        {
            var chunk = chunks[i] ?? throw new InvalidDataException($"Index snapshot chunk {ChunkKey(head.Sequence, i)} is missing.");
            if (position + chunk.Data.Length > data.Length) throw new InvalidDataException($"Index snapshot of shard {shard} is longer than its head says ({head.Length} bytes).");
            chunk.Data.Span.CopyTo(data.AsSpan(position));
            position += chunk.Data.Length;
        }
        if (position != data.Length || Convert.ToHexStringLower(SHA256.HashData(data)) != head.Sha256)
            throw new InvalidDataException($"Index snapshot {head.Sequence} of shard {shard} does not match its head (length or SHA-256).");
        return data;
    }

    /// <summary>Writes the chunks of a snapshot (overwriting leftovers of an attempt that never got its head written).</summary>
    public async Task<int> WriteChunksAsync(long sequence, byte[] data, int chunkBytes, CancellationToken cancellationToken)
    {
        var count = Math.Max(1, (data.Length + chunkBytes - 1) / chunkBytes);
        for (var i = 0; i < count; i++)
        {
            var key = ChunkKey(sequence, i);
            var slice = data.AsMemory(i * chunkBytes, Math.Min(chunkBytes, data.Length - i * chunkBytes));
            try
            {
                await storage.WriteAsync(key, slice, expectedETag: null, cancellationToken);
            }
            catch (InconsistentStateException)
            {
                // A chunk of an attempt that stopped before writing its head: nothing refers to it, so replace it.
                var existing = await storage.ReadAsync(key, cancellationToken);
                await storage.WriteAsync(key, slice, existing?.ETag, cancellationToken);
            }
        }
        return count;
    }

    /// <summary>Replaces the head (guarded by its ETag); returns the new ETag.</summary>
    public Task<string> WriteHeadAsync(SnapshotHead head, string? etag, CancellationToken cancellationToken) =>
        storage.WriteAsync(HeadKey, JsonSerializer.SerializeToUtf8Bytes(head), etag, cancellationToken);

    /// <summary>
    /// Deletes what <paramref name="head"/> made obsolete: older snapshot chunks, then the journal records it covers,
    /// the one at <see cref="SnapshotHead.Sequence"/> last, so its presence tells a later activation the trim is unfinished.
    /// </summary>
    /// <param name="head">The snapshot just written.</param>
    /// <param name="knownJournalETags">ETags of journal records this activation wrote or read (saves a read per delete).</param>
    /// <param name="cancellationToken">Cancels the trim (it can be resumed).</param>
    public async Task TrimAsync(SnapshotHead head, IReadOnlyDictionary<long, string> knownJournalETags, CancellationToken cancellationToken)
    {
        var chunkKeys = head.Obsolete.SelectMany(o => Enumerable.Range(0, o.Chunks).Select(i => (ChunkKey(o.Sequence, i), (string?)null)));
        await ClearAllAsync(chunkKeys, cancellationToken);
        if (head.Sequence < head.TrimFrom) return;
        string? ETagOf(long sequence) => knownJournalETags.TryGetValue(sequence, out var etag) ? etag : null;
        var journalKeys = Enumerable.Range(0, checked((int)(head.Sequence - head.TrimFrom)))
            .Select(i => (JournalKey(head.TrimFrom + i), ETagOf(head.TrimFrom + i)));
        await ClearAllAsync(journalKeys, cancellationToken);
        await ClearIfPresentAsync(JournalKey(head.Sequence), ETagOf(head.Sequence), cancellationToken);
    }

    private Task ClearAllAsync(IEnumerable<(RecordKey Key, string? ETag)> records, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(records, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (record, ct) => await ClearIfPresentAsync(record.Key, record.ETag, ct));

    // Clearing needs the stored ETag; a record that is already gone counts as cleared (a trim may run twice).
    private async Task ClearIfPresentAsync(RecordKey key, string? etag, CancellationToken cancellationToken)
    {
        if (etag is null)
        {
            if (await storage.ReadAsync(key, cancellationToken) is not { } stored) return;
            etag = stored.ETag;
        }
        await storage.ClearAsync(key, etag, cancellationToken);   // a record already gone counts as cleared
    }
}
