namespace Entrupy.Grains.Persistence;

/// <summary>Operations on a grain's durable state, without its type. Shaped after Orleans' <c>IStorage</c>.</summary>
public interface IStorage
{
    /// <summary>The ETag of the last read or write; null when no record exists.</summary>
    string? Etag { get; }

    /// <summary>Whether storage holds a record for this state.</summary>
    bool RecordExists { get; }

    /// <summary>Loads the state from storage (the runtime does this once before <c>OnActivateAsync</c>).</summary>
    Task ReadStateAsync(CancellationToken cancellationToken = default);

    /// <summary>Writes the state; completes once it is durable. Throws <see cref="InconsistentStateException"/> on an ETag conflict.</summary>
    Task WriteStateAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes the record and resets the state to a new instance. Throws <see cref="InconsistentStateException"/> on an ETag conflict.</summary>
    Task ClearStateAsync(CancellationToken cancellationToken = default);
}

/// <summary>Typed durable state. Shaped after Orleans' <c>IStorage&lt;TState&gt;</c>.</summary>
/// <typeparam name="TState">The state type; must round-trip through the runtime's serializer.</typeparam>
public interface IStorage<TState> : IStorage
{
    /// <summary>The in-memory state; change it, then call <see cref="IStorage.WriteStateAsync"/>.</summary>
    TState State { get; set; }
}

/// <summary>
/// Durable state injected into a grain's constructor, like Orleans' <c>IPersistentState&lt;TState&gt;</c>:
/// <code>public ItemGrain([PersistentState("item")] IPersistentState&lt;ItemState&gt; state)</code>
/// </summary>
/// <typeparam name="TState">The state type.</typeparam>
public interface IPersistentState<TState> : IStorage<TState>
{
}

/// <summary>Marks a grain constructor parameter of type <see cref="IPersistentState{TState}"/> to be filled by the runtime.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class PersistentStateAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="stateName">Name of this state within the grain (a grain may hold several).</param>
    /// <param name="storageName">Named storage provider; null means the default provider.</param>
    public PersistentStateAttribute(string stateName, string? storageName = null)
    {
        StateName = stateName;
        StorageName = storageName;
    }

    /// <summary>Name of this state within the grain.</summary>
    public string StateName { get; }

    /// <summary>Named storage provider, or null for the default.</summary>
    public string? StorageName { get; }
}

/// <summary>
/// Creates the <see cref="IPersistentState{TState}"/> for a grain constructor parameter. The runtime calls it while
/// activating a grain, then calls <see cref="IStorage.ReadStateAsync"/> before <c>OnActivateAsync</c>.
/// </summary>
public interface IPersistentStateFactory
{
    /// <summary>Creates an (unloaded) persistent state object implementing <c>IPersistentState&lt;stateType&gt;</c>.</summary>
    /// <param name="grainType">Stable grain type name.</param>
    /// <param name="grainKey">The grain's key as a string.</param>
    /// <param name="stateType">The TState of the parameter.</param>
    /// <param name="attribute">The parameter's attribute (state name, provider name).</param>
    IStorage Create(string grainType, string grainKey, Type stateType, PersistentStateAttribute attribute);
}
