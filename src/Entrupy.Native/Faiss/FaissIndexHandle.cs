using System.Runtime.InteropServices;

namespace Entrupy.Native.Faiss;

/// <summary>Owns one native <c>faiss::Index*</c>; frees it exactly once, even if the owner is never disposed.</summary>
internal sealed class FaissIndexHandle : SafeHandle
{
    /// <summary>Creates an empty handle; the interop marshaller fills it in.</summary>
    public FaissIndexHandle() : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc />
    protected override bool ReleaseHandle() => FaissNative.Free(handle) == 0;
}
