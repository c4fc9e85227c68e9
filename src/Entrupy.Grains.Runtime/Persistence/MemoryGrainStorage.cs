using System.Globalization;
using Entrupy.Grains.Persistence;

namespace Entrupy.Grains.Runtime.Persistence;

/// <summary>
/// An in-process <see cref="IGrainStorage"/> for tests and throwaway silos: nothing survives the process.
/// Follows the same ETag rules as every provider; ETags are decimal numbers from one counter per instance,
/// so an ETag is never reused, not even after a clear and re-insert of the same key.
/// </summary>
public sealed class MemoryGrainStorage : IGrainStorage
{
    private readonly Dictionary<GrainStateKey, (byte[] Data, string ETag)> _records = new();
    private readonly Lock _gate = new();
    private long _lastETag;

    /// <summary>Number of records held.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _records.Count;
        }
    }

    /// <inheritdoc />
    public Task<GrainStateRecord?> ReadAsync(GrainStateKey key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            // Hand out a copy so a caller cannot change stored bytes behind the ETag's back.
            return Task.FromResult(_records.TryGetValue(key, out var record)
                ? new GrainStateRecord(record.Data.ToArray(), record.ETag)
                : null);
        }
    }

    /// <inheritdoc />
    public Task<string> WriteAsync(GrainStateKey key, ReadOnlyMemory<byte> data, string? expectedETag, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var copy = data.ToArray();
        lock (_gate)
        {
            CheckETag(key, expectedETag);
            var etag = (++_lastETag).ToString(CultureInfo.InvariantCulture);
            _records[key] = (copy, etag);
            return Task.FromResult(etag);
        }
    }

    /// <inheritdoc />
    public Task ClearAsync(GrainStateKey key, string? expectedETag, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            CheckETag(key, expectedETag);
            _records.Remove(key);
            return Task.CompletedTask;
        }
    }

    private void CheckETag(GrainStateKey key, string? expectedETag)
    {
        var storedETag = _records.TryGetValue(key, out var record) ? record.ETag : null;
        if (!string.Equals(storedETag, expectedETag, StringComparison.Ordinal))
            throw new InconsistentStateException(key, expectedETag, storedETag);
    }
}
