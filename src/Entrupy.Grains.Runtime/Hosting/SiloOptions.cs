using System.Text.Json;

namespace Entrupy.Grains.Runtime;

/// <summary>Options of a silo. Set them with <see cref="SiloBuilder.Configure"/>.</summary>
public sealed class SiloOptions
{
    /// <summary>How long a caller waits for a response unless the method has <see cref="ResponseTimeoutAttribute"/>. Default 30 s.</summary>
    public TimeSpan DefaultResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Idle time after which an activation is collected, unless its class has <see cref="CollectionAgeLimitAttribute"/>. Default 15 min.</summary>
    public TimeSpan ActivationIdleTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often idle activations are looked for. Default: a quarter of the smallest idle timeout, between 10 ms and 1 min.</summary>
    public TimeSpan? CollectionInterval { get; set; }

    /// <summary>
    /// Copies every call's arguments and result through the grain serializer, exactly as if the call crossed a wire.
    /// Off by default (it costs a serialization per value); the test cluster turns it on so tests catch sharing and
    /// non-serializable types before a second silo does.
    /// </summary>
    public bool RoundTripCallsThroughSerializer { get; set; }

    /// <summary>
    /// Checks at start-up that every parameter and result type of every hosted grain interface can be serialized.
    /// Default on.
    /// </summary>
    public bool ValidateSerializableTypesAtStartup { get; set; } = true;

    /// <summary>
    /// The System.Text.Json options of the grain serializer. Add source-generated contexts through
    /// <see cref="JsonSerializerOptions.TypeInfoResolverChain"/>. Fields are included so tuples and plain structs round-trip.
    /// </summary>
    public JsonSerializerOptions SerializerOptions { get; set; } = new(JsonSerializerDefaults.General) { IncludeFields = true };

    /// <summary>Pool size of a <see cref="StatelessWorkerAttribute"/> grain that names none. Default: the processor count.</summary>
    public int DefaultMaxLocalWorkers { get; set; } = Environment.ProcessorCount;

    /// <summary>How long OnActivateAsync / OnDeactivateAsync may take before their token is cancelled. Default 30 s.</summary>
    public TimeSpan ActivationTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
