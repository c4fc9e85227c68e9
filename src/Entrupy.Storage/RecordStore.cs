using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Storage;

namespace Entrupy.Storage;

/// <summary>
/// Raw records (already-encoded bytes under a <see cref="RecordKey"/>) kept through an Orleans <see cref="IGrainStorage"/>
/// provider, so journals, snapshot chunks and payloads live in the same store as grain state, with the same ETag rules,
/// on SQLite, Azure Blob storage or memory alike.
/// </summary>
/// <remarks>
/// ETag rules: a write with a null ETag inserts and fails with <see cref="InconsistentStateException"/> when the record
/// exists; otherwise the stored ETag must match. A clear of a record that is already gone succeeds.
/// The provider must serialize <see cref="BinaryRecord"/> (use <see cref="EntrupyGrainStateSerializer"/>).
/// </remarks>
/// <param name="storage">The provider, usually the silo's default one (<see cref="StorageNames.Default"/>).</param>
public sealed class RecordStore(IGrainStorage storage)
{
    /// <summary>The provider underneath.</summary>
    public IGrainStorage Provider => storage;

    /// <summary>Reads a record, or null when none exists.</summary>
    public async Task<StoredRecord?> ReadAsync(RecordKey key, CancellationToken cancellationToken = default)
    {
        var state = new GrainState<BinaryRecord>(new BinaryRecord());
        await storage.ReadStateAsync(key.Name, key.GrainId, state, cancellationToken);
        // The ETag, not RecordExists, says whether the record is there: Orleans' Azure Blob provider reports an empty
        // blob (a record of zero bytes) as RecordExists = false with the blob's ETag, and an insert over it conflicts.
        return state.ETag is not null ? new StoredRecord(state.State?.Data ?? [], state.ETag) : null;
    }

    /// <summary>Inserts or replaces a record under the ETag rules; returns the new ETag once durable.</summary>
    /// <exception cref="InconsistentStateException">The ETag does not match what is stored.</exception>
    public async Task<string> WriteAsync(RecordKey key, ReadOnlyMemory<byte> data, string? expectedETag, CancellationToken cancellationToken = default)
    {
        var state = new GrainState<BinaryRecord>(new BinaryRecord { Data = data.ToArray() })
        {
            ETag = expectedETag,
            RecordExists = expectedETag is not null,
        };
        await storage.WriteStateAsync(key.Name, key.GrainId, state, cancellationToken);
        return state.ETag ?? throw new GrainStorageException($"The storage provider returned no ETag for {key}.");
    }

    /// <summary>Deletes a record under the ETag rules (a record that is already gone counts as deleted).</summary>
    /// <exception cref="InconsistentStateException">The record exists under another ETag.</exception>
    public async Task ClearAsync(RecordKey key, string? expectedETag, CancellationToken cancellationToken = default)
    {
        var state = new GrainState<BinaryRecord>(new BinaryRecord()) { ETag = expectedETag, RecordExists = expectedETag is not null };
        try
        {
            await storage.ClearStateAsync(key.Name, key.GrainId, state, cancellationToken);
        }
        catch (InconsistentStateException)
        {
            // Providers differ on clearing what is gone; for a caller the outcome is the same.
            if (await ReadAsync(key, cancellationToken) is not null) throw;
        }
    }
}

/// <summary>Finds record stores among a silo's services.</summary>
public static class RecordStoreServiceProviderExtensions
{
    /// <summary>A <see cref="RecordStore"/> over the storage provider registered as <paramref name="providerName"/>.</summary>
    /// <exception cref="InvalidOperationException">No such provider is registered.</exception>
    public static RecordStore GetRecordStore(this IServiceProvider services, string providerName = StorageNames.Default) =>
        new(services.GetKeyedService<IGrainStorage>(providerName)
            ?? throw new InvalidOperationException($"No grain storage provider named '{providerName}' is registered on this silo."));
}
