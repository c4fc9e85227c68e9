using Orleans.Runtime;

namespace Entrupy.Storage;

/// <summary>
/// Names one stored record: a grain type, a key and a state name, exactly as Orleans names a grain's state
/// (<c>[PersistentState(name)]</c> of grain <c>{type}/{key}</c>). Records that belong to no grain activation
/// (journal entries, snapshot chunks, payloads) use a type of their own, so they never collide with grain state.
/// </summary>
/// <param name="Type">Stable grain type name (never a CLR type name that may change on refactoring).</param>
/// <param name="Key">The key within the type.</param>
/// <param name="Name">The state name.</param>
public readonly record struct RecordKey(string Type, string Key, string Name)
{
    /// <summary>The grain id a provider files this record under.</summary>
    public GrainId GrainId => GrainId.Create(Type, Key);

    /// <inheritdoc />
    public override string ToString() => $"{Type}/{Key}/{Name}";
}

/// <summary>A stored record: its bytes and the ETag that guards the next write.</summary>
/// <param name="Data">The bytes.</param>
/// <param name="ETag">Opaque version tag from the provider.</param>
public sealed record StoredRecord(ReadOnlyMemory<byte> Data, string ETag);

/// <summary>
/// The state type of a raw record: bytes the caller already encoded. <see cref="EntrupyGrainStateSerializer"/> stores
/// them as they are (no JSON, no base64), whatever the provider.
/// </summary>
public sealed class BinaryRecord
{
    /// <summary>The bytes.</summary>
    public byte[] Data { get; set; } = [];
}
