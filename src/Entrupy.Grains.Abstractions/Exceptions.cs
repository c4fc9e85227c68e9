namespace Entrupy.Grains;

/// <summary>
/// A call would wait on a grain that is itself waiting on this call: a cycle between non-reentrant activations.
/// Thrown instead of hanging. Break the cycle, mark a grain <see cref="ReentrantAttribute"/>, or a method
/// <see cref="AlwaysInterleaveAttribute"/>.
/// </summary>
public sealed class DeadlockException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="callChain">The grains in the cycle, in call order, ending with the grain called again.</param>
    /// <param name="method">The method whose call closed the cycle.</param>
    public DeadlockException(IReadOnlyList<GrainId> callChain, string method)
        : base($"Deadlock: call cycle between non-reentrant grains {string.Join(" → ", callChain)} (closing call: {method}). " +
               "Break the cycle, mark a grain [Reentrant] or the method [AlwaysInterleave].")
    {
        CallChain = callChain;
        Method = method;
    }

    /// <summary>The grains in the cycle, in call order, ending with the grain called again.</summary>
    public IReadOnlyList<GrainId> CallChain { get; }

    /// <summary>The method whose call closed the cycle, as "IInterface.Method".</summary>
    public string Method { get; }
}

/// <summary>A grain call got no response within its response timeout. The call may still complete in the grain.</summary>
public sealed class GrainCallTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    public GrainCallTimeoutException(GrainId grainId, string method, TimeSpan timeout)
        : base($"Call to {method} on grain {grainId} got no response within {timeout} " +
               "(silo default SiloOptions.DefaultResponseTimeout, or [ResponseTimeout] on the method).")
    {
        GrainId = grainId;
        Method = method;
        Timeout = timeout;
    }

    /// <summary>The grain called.</summary>
    public GrainId GrainId { get; }

    /// <summary>The method, as "IInterface.Method".</summary>
    public string Method { get; }

    /// <summary>The timeout that expired.</summary>
    public TimeSpan Timeout { get; }
}

/// <summary>A grain interface uses a type that cannot cross the wire through the grain serializer (System.Text.Json).</summary>
public sealed class GrainSerializationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public GrainSerializationException(Type type, string method, string reason, Exception? inner = null)
        : base($"Type {type} used by grain method {method} cannot be serialized: {reason}", inner)
    {
        Type = type;
        Method = method;
    }

    /// <summary>The offending type.</summary>
    public Type Type { get; }

    /// <summary>The method, as "IInterface.Method".</summary>
    public string Method { get; }
}
