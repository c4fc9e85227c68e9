namespace Entrupy.Native.Onnx;

/// <summary>
/// A caller-owned buffer that <see cref="OnnxSession.RunInto"/> fills with one output: ONNX Runtime writes the result
/// straight into it, so a run allocates and copies no output memory (large batched outputs would otherwise be a fresh
/// managed array per run).
/// </summary>
/// <remarks>The shape must be exactly the one the model produces for the inputs given; ORT refuses the run otherwise.</remarks>
public sealed class OnnxOutputBuffer
{
    private readonly long[] shape;

    /// <summary>Wraps <paramref name="data"/> (not copied) as an output of the given dimensions.</summary>
    /// <exception cref="ArgumentException">A dimension is negative, or the element count of the shape differs from the length of the data.</exception>
    public OnnxOutputBuffer(Memory<float> data, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        this.shape = (long[])shape.Clone();
        var count = OnnxTensor.ElementCount(this.shape, nameof(shape));
        if (count != data.Length)
            throw new ArgumentException(
                $"Shape [{string.Join(",", this.shape)}] holds {count} elements but the buffer has {data.Length}.", nameof(data));
        Data = data;
    }

    /// <summary>The buffer ORT writes into, row-major.</summary>
    public Memory<float> Data { get; }

    /// <summary>The dimensions.</summary>
    public IReadOnlyList<long> Shape => shape;

    internal ReadOnlySpan<long> ShapeSpan => shape;

    /// <summary>The dimensions array itself, not a copy: ORT copies the shape when it wraps the data, and never changes it.</summary>
    internal long[] SharedShape => shape;

    /// <inheritdoc />
    public override string ToString() => $"float[{string.Join(",", shape)}] (caller buffer)";
}
