using Entrupy.Persistence.Sqlite;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Registry.Tests;

/// <summary>Real SQLite storage whose writes of one grain type (records are filed as grain ids of their type) wait while the gate is closed.</summary>
internal sealed class GatedStorage(SqliteGrainStorage inner, string grainType) : IGrainStorage, IAsyncDisposable
{
    private volatile TaskCompletionSource gate = Opened();

    public SemaphoreSlim Blocked { get; } = new(0);

    public void Close() => gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Open() => gate.TrySetResult();

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var waitFor = gate.Task;
        if (grainId.Type.ToString() == grainType && !waitFor.IsCompleted)
        {
            Blocked.Release();
            await waitFor;
        }
        await inner.WriteStateAsync(stateName, grainId, grainState);
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private static TaskCompletionSource Opened()
    {
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        opened.SetResult();
        return opened;
    }
}
