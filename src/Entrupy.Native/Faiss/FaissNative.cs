using System.Runtime.InteropServices;
using System.Text;

namespace Entrupy.Native.Faiss;

/// <summary>P/Invoke surface of faiss_shim.cpp. Every call returns 0, or -1 with the text in <c>entrupy_last_error</c>.</summary>
internal static unsafe partial class FaissNative
{
    static FaissNative() => NativeLibraries.EnsureRegistered();

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_last_error")]
    private static partial int LastError(byte* buffer, int capacity);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_version")]
    internal static partial int Version(out int major, out int minor, out int patch);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_set_num_threads")]
    internal static partial int SetNumThreads(int threads);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_get_num_threads")]
    internal static partial int GetNumThreads(out int threads);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_create")]
    internal static partial int Create(int dimension, byte* description, int metric, out FaissIndexHandle index);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_free")]
    internal static partial int Free(nint index);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_info")]
    internal static partial int Info(FaissIndexHandle index, out int dimension, out long count, out int isTrained, out int metric);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_train")]
    internal static partial int Train(FaissIndexHandle index, long n, float* vectors);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_add_with_ids")]
    internal static partial int AddWithIds(FaissIndexHandle index, long n, float* vectors, long* ids);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_remove_ids")]
    internal static partial int RemoveIds(FaissIndexHandle index, long n, long* ids, out long removed);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_search")]
    internal static partial int Search(FaissIndexHandle index, long n, float* queries, long k, int efSearch, int nprobe, float* distances, long* ids);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_search_reference")]
    internal static partial int SearchReference(FaissIndexHandle index, long n, float* queries, long k, float* distances, long* ids);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_serialize")]
    internal static partial int Serialize(FaissIndexHandle index, out nint blob, out byte* data, out long size);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_blob_free")]
    internal static partial void FreeBlob(nint blob);

    [LibraryImport(NativeLibraries.Shim, EntryPoint = "entrupy_faiss_deserialize")]
    internal static partial int Deserialize(byte* data, long size, out FaissIndexHandle index);

    /// <summary>Throws a <see cref="FaissException"/> carrying the native message when <paramref name="status"/> is not 0.</summary>
    internal static void Check(int status, string operation)
    {
        if (status != 0) throw new FaissException(operation, ReadLastError());
    }

    private static string ReadLastError()
    {
        // The message lives in a thread-local on the native side: read it on the thread that failed.
        Span<byte> buffer = stackalloc byte[512];
        int length;
        fixed (byte* p = buffer) length = LastError(p, buffer.Length);
        if (length >= buffer.Length)
        {
            buffer = new byte[length + 1];
            fixed (byte* p = buffer) length = Math.Min(LastError(p, buffer.Length), buffer.Length - 1);
        }
        return Encoding.UTF8.GetString(buffer[..length]);
    }
}
