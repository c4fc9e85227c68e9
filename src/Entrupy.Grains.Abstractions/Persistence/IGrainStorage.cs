namespace Entrupy.Grains.Persistence;

/// <summary>
/// A storage provider: durable, ETag-guarded blobs of grain state. Providers store opaque bytes;
/// the runtime serializes state. Every provider must pass the shared conformance kit
/// (<c>tests/Entrupy.Grains.Persistence.Conformance</c>).
/// </summary>
/// <remarks>
/// ETag rules, the same for every provider:
/// <list type="bullet">
/// <item><c>expectedETag == null</c> means "the record must not exist" (an insert).</item>
/// <item>Otherwise the stored ETag must equal <c>expectedETag</c>.</item>
/// <item>On mismatch the call throws <see cref="InconsistentStateException"/> and changes nothing.</item>
/// <item>A write returns only once the data is durable; it returns the new ETag.</item>
/// </list>
/// </remarks>
public interface IGrainStorage
{
    /// <summary>Reads a record, or null when none exists.</summary>
    Task<GrainStateRecord?> ReadAsync(GrainStateKey key, CancellationToken cancellationToken = default);

    /// <summary>Inserts or replaces a record under the ETag rules; returns the new ETag once durable.</summary>
    Task<string> WriteAsync(GrainStateKey key, ReadOnlyMemory<byte> data, string? expectedETag, CancellationToken cancellationToken = default);

    /// <summary>Deletes a record under the ETag rules. Clearing a record that does not exist with a null ETag succeeds.</summary>
    Task ClearAsync(GrainStateKey key, string? expectedETag, CancellationToken cancellationToken = default);
}

/// <summary>Identifies one piece of state: which grain type, which grain, which named state of it.</summary>
/// <param name="GrainType">Stable grain type name (not a CLR type name that may change on refactoring).</param>
/// <param name="GrainKey">The grain's key as a string.</param>
/// <param name="StateName">The state's name, from <c>[PersistentState("name")]</c>.</param>
public readonly record struct GrainStateKey(string GrainType, string GrainKey, string StateName)
{
    /// <inheritdoc />
    public override string ToString() => $"{GrainType}/{GrainKey}/{StateName}";
}

/// <summary>A stored record: its bytes and the ETag that guards the next write.</summary>
/// <param name="Data">Serialized state.</param>
/// <param name="ETag">Opaque version tag.</param>
public sealed record GrainStateRecord(ReadOnlyMemory<byte> Data, string ETag);

/// <summary>
/// Thrown when a write or clear carries an ETag that no longer matches storage: another writer got there first.
/// Nothing was changed. Re-read the state before deciding whether to retry.
/// </summary>
public sealed class InconsistentStateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InconsistentStateException(GrainStateKey key, string? expectedETag, string? storedETag)
        : base($"ETag conflict on {key}: expected {expectedETag ?? "<no record>"}, storage has {storedETag ?? "<no record>"}. " +
               "Another writer changed this state; re-read it before retrying.")
    {
        Key = key;
        ExpectedETag = expectedETag;
        StoredETag = storedETag;
    }

    /// <summary>The state that conflicted.</summary>
    public GrainStateKey Key { get; }

    /// <summary>The ETag the caller presented.</summary>
    public string? ExpectedETag { get; }

    /// <summary>The ETag in storage (null when the record does not exist), if the provider knows it.</summary>
    public string? StoredETag { get; }
}

/// <summary>
/// Thrown when the store cannot be reached or failed in a way that may pass (network, throttling, a stopped emulator).
/// The operation may or may not have happened; callers that retry must be idempotent.
/// </summary>
public sealed class StorageUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StorageUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}
