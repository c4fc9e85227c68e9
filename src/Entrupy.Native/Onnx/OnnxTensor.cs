namespace Entrupy.Native.Onnx;

/// <summary>A dense float tensor: row-major data plus its shape. Used for both inputs and outputs of <see cref="OnnxSession"/>.</summary>
/// <remarks>
/// Input data is not copied: ORT reads it in place (it is pinned for the duration of the run), so do not change the
/// buffer while a run that uses it is in progress.
/// </remarks>
public sealed class OnnxTensor
{
    private readonly long[] shape;

    /// <summary>Creates a tensor over <paramref name="data"/> with the given dimensions.</summary>
    /// <exception cref="ArgumentException">A dimension is negative, or the element count of the shape differs from the length of the data.</exception>
    public OnnxTensor(ReadOnlyMemory<float> data, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        this.shape = (long[])shape.Clone();
        var count = ElementCount(this.shape, nameof(shape));
        if (count != data.Length)
            throw new ArgumentException(
                $"Shape [{string.Join(",", this.shape)}] holds {count} elements but the data has {data.Length}.", nameof(data));
        Data = data;
    }

    /// <summary>The elements in row-major order.</summary>
    public ReadOnlyMemory<float> Data { get; }

    /// <summary>The dimensions.</summary>
    public IReadOnlyList<long> Shape => shape;

    /// <summary>A copy of the dimensions.</summary>
    public long[] ShapeArray() => (long[])shape.Clone();

    internal ReadOnlySpan<long> ShapeSpan => shape;

    /// <summary>The dimensions array itself, not a copy: ORT copies the shape when it wraps the data, and never changes it.</summary>
    internal long[] SharedShape => shape;

    /// <inheritdoc />
    public override string ToString() => $"float[{string.Join(",", shape)}]";

    /// <summary>Product of the dimensions, checked for negative dimensions and overflow past what a .NET array can hold.</summary>
    internal static long ElementCount(ReadOnlySpan<long> dims, string parameterName)
    {
        long count = 1;
        foreach (var dim in dims)
        {
            if (dim < 0)
                throw new ArgumentException($"Shape [{string.Join(",", dims.ToArray())}] has a negative dimension.", parameterName);
            count = checked(count * dim);
            if (count > Array.MaxLength)
                throw new ArgumentException($"Shape [{string.Join(",", dims.ToArray())}] has more elements than an array can hold.", parameterName);
        }
        return count;
    }
}
