namespace Entrupy.Native.Onnx;

/// <summary>Name, element type and shape of one model input or output.</summary>
public sealed class OnnxNodeInfo
{
    internal OnnxNodeInfo(string name, bool isTensor, OnnxElementType elementType, long[] shape)
    {
        Name = name;
        IsTensor = isTensor;
        ElementType = elementType;
        Shape = Array.AsReadOnly(shape);
    }

    /// <summary>Name as declared in the model graph.</summary>
    public string Name { get; }

    /// <summary>Whether the value is a tensor (false for sequences, maps and other ONNX types).</summary>
    public bool IsTensor { get; }

    /// <summary>Element type of the tensor; <see cref="OnnxElementType.Undefined"/> when <see cref="IsTensor"/> is false.</summary>
    public OnnxElementType ElementType { get; }

    /// <summary>Declared dimensions; <c>-1</c> marks a dynamic dimension (for example the batch size).</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Count;

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {ElementType}[{string.Join(",", Shape)}]";
}
