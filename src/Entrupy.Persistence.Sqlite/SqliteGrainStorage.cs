using Entrupy.Storage;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Persistence.Sqlite;

/// <summary>
/// The embedded default Orleans grain storage provider: state of grain <c>{type}/{key}</c>, state name <c>n</c>, is
/// one row <c>(type, key, n)</c> of one SQLite file in WAL mode with <c>synchronous=FULL</c>, written through
/// <see cref="SqliteStateStore"/>'s group commit (one fsync per batch; a write completes only once durable).
/// ETags are decimal version numbers that increase with every write and are never reused; a conflict throws
/// Orleans' <see cref="InconsistentStateException"/>. State is serialized by the configured
/// <see cref="IGrainStorageSerializer"/> (<see cref="EntrupyGrainStateSerializer"/> by default).
/// </summary>
/// <remarks>
/// We keep our own provider rather than Orleans' ADO.NET one for the embedded case: Orleans' SQLite variant of the ADO.NET
/// provider commits each write on its own (one fsync per write), where group commit makes concurrent durable writes
/// from many grains cost one fsync per batch. docs/persistence.md has the comparison.
/// </remarks>
public sealed class SqliteGrainStorage : IGrainStorage, IAsyncDisposable, IDisposable
{
    private readonly IGrainStorageSerializer _serializer;

    /// <summary>Opens (or creates) the database file and starts its writer.</summary>
    /// <param name="options">Where the file is, batching limits.</param>
    /// <param name="serializer">How state objects become bytes; null means <see cref="EntrupyGrainStateSerializer"/>.</param>
    /// <exception cref="GrainStorageException">The file is not a database of this provider, or its schema is newer than this build.</exception>
    /// <exception cref="StorageUnavailableException">The file cannot be opened or locked right now.</exception>
    public SqliteGrainStorage(SqliteGrainStorageOptions options, IGrainStorageSerializer? serializer = null)
    {
        Store = new SqliteStateStore(options);
        _serializer = serializer ?? new EntrupyGrainStateSerializer();
    }

    /// <summary>The record engine underneath (for tools that read raw records, and for tests).</summary>
    public SqliteStateStore Store { get; }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => Store.DatabasePath;

    /// <summary>The record a grain's state is filed under.</summary>
    public static RecordKey KeyOf(string stateName, GrainId grainId) => new(grainId.Type.ToString()!, grainId.Key.ToString()!, stateName);

    /// <inheritdoc />
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var record = await Store.ReadAsync(KeyOf(stateName, grainId));
        if (record is null)
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }
        grainState.State = _serializer.Deserialize<T>(new BinaryData(record.Data));
        grainState.ETag = record.ETag;
        grainState.RecordExists = true;
    }

    /// <inheritdoc />
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        // The serialized form is a fresh buffer (a BinaryRecord's bytes are RecordStore's own copy): hand it over whole.
        var data = _serializer.Serialize(grainState.State).ToMemory();
        var key = KeyOf(stateName, grainId);
        grainState.ETag = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(data, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? await Store.WriteOwnedAsync(key, segment.Array, grainState.ETag)
            : await Store.WriteAsync(key, data, grainState.ETag);
        grainState.RecordExists = true;
    }

    /// <inheritdoc />
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await Store.ClearAsync(KeyOf(stateName, grainId), grainState.ETag);
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
    }

    /// <summary>Commits every queued write, then closes the file.</summary>
    public ValueTask DisposeAsync() => Store.DisposeAsync();

    /// <inheritdoc />
    public void Dispose() => Store.Dispose();
}
