using System.Text.Json;
using Entrupy.Grains.Persistence;

namespace Entrupy.Grains.Runtime.Persistence;

/// <summary>
/// <see cref="IPersistentState{TState}"/> over an <see cref="IGrainStorage"/>: state is serialized to UTF-8 JSON and
/// every write carries the ETag of the last read or write, so a stale activation can never overwrite newer data.
/// Not thread-safe: a grain runs one turn at a time, which is the only caller.
/// </summary>
internal sealed class PersistentState<TState> : IPersistentState<TState>, IStateWriteFailureSource where TState : new()
{
    private readonly IGrainStorage _storage;
    private readonly GrainStateKey _key;
    private readonly JsonSerializerOptions _serializerOptions;

    public PersistentState(IGrainStorage storage, GrainStateKey key, JsonSerializerOptions serializerOptions)
    {
        _storage = storage;
        _key = key;
        _serializerOptions = serializerOptions;
        State = new TState();
    }

    public TState State { get; set; }

    public string? Etag { get; private set; }

    public bool RecordExists { get; private set; }

    public Action? WriteFailed { get; set; }

    public async Task ReadStateAsync(CancellationToken cancellationToken = default)
    {
        var record = await _storage.ReadAsync(_key, cancellationToken).ConfigureAwait(false);
        if (record is null)
        {
            State = new TState();
            Etag = null;
            RecordExists = false;
            return;
        }

        State = Deserialize(record.Data);
        Etag = record.ETag;
        RecordExists = true;
    }

    public async Task WriteStateAsync(CancellationToken cancellationToken = default)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(State, _serializerOptions);
        try
        {
            // On a conflict the ETag stays as it was: the grain must re-read before it can write again.
            Etag = await _storage.WriteAsync(_key, bytes, Etag, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // State already holds the change the grain made before writing: it must not outlive this activation.
            WriteFailed?.Invoke();
            throw;
        }

        RecordExists = true;
    }

    public async Task ClearStateAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await _storage.ClearAsync(_key, Etag, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            WriteFailed?.Invoke();
            throw;
        }

        State = new TState();
        Etag = null;
        RecordExists = false;
    }

    private TState Deserialize(ReadOnlyMemory<byte> data)
    {
        try
        {
            // A stored JSON null is treated like a missing record's state rather than handing the grain a null.
            return JsonSerializer.Deserialize<TState>(data.Span, _serializerOptions) ?? new TState();
        }
        catch (JsonException ex)
        {
            throw new GrainStorageException(
                $"Stored state {_key} ({data.Length} bytes) is not valid JSON for {typeof(TState).FullName}: {ex.Message}", ex);
        }
    }
}

/// <summary>
/// A persistent state that reports failed writes and clears. After one, the grain's in-memory state may claim changes
/// storage never acknowledged (or carry a stale ETag), so the activation drops itself once the current turn ends and the
/// next call starts from what storage holds. (Orleans leaves this to each grain; one forgotten catch there is a silent
/// lie to the next caller, so here the runtime does it for every grain.)
/// </summary>
internal interface IStateWriteFailureSource
{
    /// <summary>Called (on the grain's turn) when a write or clear threw, before the exception reaches the grain.</summary>
    Action? WriteFailed { get; set; }
}
