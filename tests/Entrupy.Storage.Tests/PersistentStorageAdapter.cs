using Orleans;
using Orleans.Core;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Storage.Tests;

/// <summary>
/// An <see cref="IPersistentState{TState}"/> straight over a provider, as Orleans' state bridge drives it (read, write
/// and clear with the state object's ETag), so JournaledState can be tested against a provider without a silo.
/// </summary>
internal sealed class PersistentStorageAdapter<T>(IGrainStorage storage, string stateName, GrainId grainId) : IPersistentState<T>
    where T : class, new()
{
    private readonly GrainState<T> _state = new(new T());

    public T State
    {
        get => _state.State!;
        set => _state.State = value;
    }

    public string? Etag => _state.ETag;

    public bool RecordExists => _state.RecordExists;

    public Task ReadStateAsync() => storage.ReadStateAsync(stateName, grainId, _state);

    public Task WriteStateAsync() => storage.WriteStateAsync(stateName, grainId, _state);

    public Task ClearStateAsync() => storage.ClearStateAsync(stateName, grainId, _state);
}
