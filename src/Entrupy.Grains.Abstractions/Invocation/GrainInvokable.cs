using System.ComponentModel;
using System.Globalization;

namespace Entrupy.Grains.Invocation;

/// <summary>
/// One grain call as data: the method and its arguments. Generated per interface method; this is what crosses the wire.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class GrainInvokable
{
    /// <summary>Describes the method called.</summary>
    public abstract GrainMethodDescriptor Method { get; }

    /// <summary>The call's cancellation token, when the method has a <see cref="CancellationToken"/> parameter.</summary>
    public virtual CancellationToken CancellationToken => default;

    /// <summary>Replaces every argument by its copy through the serializer, as if the call had crossed a wire.</summary>
    public abstract void RoundTripArguments(IGrainArgumentSerializer serializer);

    /// <summary>Adapts a <see cref="Task"/>-returning grain method.</summary>
    protected static ValueTask<NoResult> FromTask(Task task)
    {
        if (task.IsCompletedSuccessfully) return default;
        return Await(task);

        static async ValueTask<NoResult> Await(Task task)
        {
            await task.ConfigureAwait(false);
            return default;
        }
    }

    /// <summary>Adapts a <see cref="ValueTask"/>-returning grain method.</summary>
    protected static ValueTask<NoResult> FromValueTask(ValueTask task)
    {
        if (task.IsCompletedSuccessfully)
        {
            task.GetAwaiter().GetResult();
            return default;
        }
        return Await(task);

        static async ValueTask<NoResult> Await(ValueTask task)
        {
            await task.ConfigureAwait(false);
            return default;
        }
    }
}

/// <summary>A grain call with a typed result.</summary>
/// <typeparam name="TResult">The method's result; <see cref="NoResult"/> for methods without one.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class GrainInvokable<TResult> : GrainInvokable
{
    /// <summary>Calls the method on the grain instance.</summary>
    public abstract ValueTask<TResult> InvokeAsync(object grain);
}

/// <summary>Copies values through the grain serializer.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IGrainArgumentSerializer
{
    /// <summary>Serializes and deserializes a value; throws <see cref="GrainSerializationException"/> naming type and method.</summary>
    T RoundTrip<T>(T value, GrainMethodDescriptor method);
}

/// <summary>Static facts about one grain interface method, emitted by the code generator.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class GrainMethodDescriptor
{
    /// <summary>Creates a descriptor.</summary>
    /// <param name="interfaceType">The grain interface declaring the method.</param>
    /// <param name="methodName">The method name.</param>
    /// <param name="parameterTypes">Parameter types that cross the wire (cancellation tokens excluded).</param>
    /// <param name="resultType">The result type; <see cref="NoResult"/> when there is none.</param>
    /// <param name="alwaysInterleave">Whether the method has <see cref="AlwaysInterleaveAttribute"/>.</param>
    /// <param name="responseTimeout">The <see cref="ResponseTimeoutAttribute"/> value, invariant "c" format, or null.</param>
    public GrainMethodDescriptor(Type interfaceType, string methodName, Type[] parameterTypes, Type resultType, bool alwaysInterleave, string? responseTimeout)
    {
        InterfaceType = interfaceType;
        MethodName = methodName;
        ParameterTypes = parameterTypes;
        ResultType = resultType;
        AlwaysInterleave = alwaysInterleave;
        ResponseTimeout = responseTimeout is null ? null : TimeSpan.Parse(responseTimeout, CultureInfo.InvariantCulture);
        DisplayName = $"{interfaceType.Name}.{methodName}";
    }

    /// <summary>The grain interface declaring the method.</summary>
    public Type InterfaceType { get; }

    /// <summary>The method name.</summary>
    public string MethodName { get; }

    /// <summary>"IInterface.Method", used in messages and statistics.</summary>
    public string DisplayName { get; }

    /// <summary>Parameter types that cross the wire (cancellation tokens excluded).</summary>
    public IReadOnlyList<Type> ParameterTypes { get; }

    /// <summary>The result type; <see cref="NoResult"/> when there is none.</summary>
    public Type ResultType { get; }

    /// <summary>Whether calls may interleave with any other call.</summary>
    public bool AlwaysInterleave { get; }

    /// <summary>The per-method response timeout, or null for the silo default.</summary>
    public TimeSpan? ResponseTimeout { get; }

    /// <inheritdoc />
    public override string ToString() => DisplayName;
}
