using System.Runtime.InteropServices;

namespace Entrupy.Native.Onnx;

/// <summary>
/// Owns an <c>OrtSession*</c> plus the native UTF-8 copies of its input and output names that every run passes back
/// to ORT. Both are freed together, and only after the last in-flight run has released its reference.
/// </summary>
internal sealed unsafe class OrtSessionHandle : SafeHandle
{
    private byte** inputNames;
    private byte** outputNames;
    private int inputCount;
    private int outputCount;

    internal OrtSessionHandle() : base(0, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Takes ownership of a freshly created session; called before anything else can fail.</summary>
    internal void Attach(nint session) => SetHandle(session);

    /// <summary>Native, null-terminated input names in model order; valid while a reference is held.</summary>
    internal byte** InputNames => inputNames;

    /// <summary>Native, null-terminated output names in model order; valid while a reference is held.</summary>
    internal byte** OutputNames => outputNames;

    /// <summary>Copies the names into native memory owned by this handle.</summary>
    internal void SetNames(IReadOnlyList<string> inputs, IReadOnlyList<string> outputs)
    {
        inputNames = Allocate(inputs);
        inputCount = inputs.Count;
        outputNames = Allocate(outputs);
        outputCount = outputs.Count;
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        OnnxRuntime.Api.ReleaseSession(handle);
        Free(inputNames, inputCount);
        Free(outputNames, outputCount);
        inputNames = null;
        outputNames = null;
        return true;
    }

    private static byte** Allocate(IReadOnlyList<string> names)
    {
        var array = (byte**)NativeMemory.AllocZeroed((nuint)Math.Max(1, names.Count), (nuint)sizeof(byte*));
        for (var i = 0; i < names.Count; i++)
        {
            var utf8 = OnnxRuntime.Utf8Z(names[i]);
            var copy = (byte*)NativeMemory.Alloc((nuint)utf8.Length);
            utf8.CopyTo(new Span<byte>(copy, utf8.Length));
            array[i] = copy;
        }
        return array;
    }

    private static void Free(byte** array, int count)
    {
        if (array == null) return;
        for (var i = 0; i < count; i++) NativeMemory.Free(array[i]);
        NativeMemory.Free(array);
    }
}
