namespace Entrupy.Grains;

/// <summary>
/// Lets every call to this grain interleave with the others at await points (turns still never run in parallel).
/// Without it a grain processes one call at a time, start to finish.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class ReentrantAttribute : Attribute
{
}

/// <summary>Lets calls to this interface method interleave with any other call of the activation.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class AlwaysInterleaveAttribute : Attribute
{
}

/// <summary>
/// A stateless worker: the silo keeps a local pool of up to <see cref="MaxLocalWorkers"/> activations of the same
/// grain id and spreads calls over them, for CPU-bound work such as inference. Each activation is still turn-based.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class StatelessWorkerAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="maxLocalWorkers">Pool size per silo; 0 or less means the silo default (the processor count).</param>
    public StatelessWorkerAttribute(int maxLocalWorkers = 0) => MaxLocalWorkers = maxLocalWorkers;

    /// <summary>Pool size per silo; 0 or less means the silo default.</summary>
    public int MaxLocalWorkers { get; }
}

/// <summary>Overrides the silo's default response timeout for one interface method.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ResponseTimeoutAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="timeout">A <see cref="TimeSpan"/> in invariant "c" format, e.g. "00:00:05".</param>
    public ResponseTimeoutAttribute(string timeout) => Timeout = TimeSpan.Parse(timeout, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The timeout.</summary>
    public TimeSpan Timeout { get; }
}

/// <summary>Names a grain class with a stable grain type name (used in grain ids and storage keys).</summary>
/// <remarks>Without it the name is the class name, less a "Grain" suffix, lower-cased: <c>ItemGrain</c> is "item".</remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class GrainTypeAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    public GrainTypeAttribute(string name) => Name = name;

    /// <summary>The stable grain type name.</summary>
    public string Name { get; }
}

/// <summary>Overrides the silo's idle time after which an activation of this grain class is collected.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class CollectionAgeLimitAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="idleTime">A <see cref="TimeSpan"/> in invariant "c" format, e.g. "00:10:00".</param>
    public CollectionAgeLimitAttribute(string idleTime) => IdleTime = TimeSpan.Parse(idleTime, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The idle time.</summary>
    public TimeSpan IdleTime { get; }
}
