using System.ComponentModel;

namespace Entrupy.Grains.Invocation;

/// <summary>
/// Base class of generated grain references (proxies). A reference holds only the <see cref="GrainId"/> and the
/// invoker that turns a method call into a message; where the activation lives is the invoker's business.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class GrainReference : IEquatable<GrainReference>
{
    /// <summary>Creates a reference.</summary>
    protected GrainReference(IGrainCallInvoker invoker, GrainId grainId)
    {
        Invoker = invoker;
        GrainId = grainId;
    }

    /// <summary>The grain this reference points to.</summary>
    public GrainId GrainId { get; }

    /// <summary>Sends the calls.</summary>
    protected IGrainCallInvoker Invoker { get; }

    /// <summary>
    /// A slot the invoker may use to remember where it last delivered (e.g. the local activation, or a silo address).
    /// Only a hint: the invoker validates it on every use.
    /// </summary>
    internal object? RoutingCache;

    /// <inheritdoc />
    public bool Equals(GrainReference? other) => other is not null && other.GrainId == GrainId;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GrainReference other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => GrainId.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => GrainId.ToString();
}

/// <summary>Sends grain calls; implemented by the runtime, called by generated references.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IGrainCallInvoker
{
    /// <summary>Sends a call with a result.</summary>
    ValueTask<TResult> InvokeAsync<TResult>(GrainReference target, GrainInvokable<TResult> request);

    /// <summary>Sends a call without a result.</summary>
    ValueTask InvokeVoidAsync(GrainReference target, GrainInvokable<NoResult> request);
}

/// <summary>The result type of grain methods returning <see cref="Task"/> or <see cref="ValueTask"/>.</summary>
public readonly struct NoResult
{
}
