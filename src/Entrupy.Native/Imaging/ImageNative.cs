using System.Runtime.InteropServices;
using System.Text;

namespace Entrupy.Native.Imaging;

/// <summary>P/Invoke surface of native/image_shim.cpp. Status codes: 0 ok, 1–6 <see cref="ImageDecodeReason"/>, 7 invalid argument, -1 native failure.</summary>
internal static unsafe class ImageNative
{
    /// <summary>Header facts; layout mirrors <c>entrupy_image_info</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeImageInfo
    {
        public int Format;
        public int Width;
        public int Height;
        public int Channels;
        public int HasAlpha;
        public int BitsPerSample;
        public int Interlaced;
        public int Reserved;
    }

    // Native status codes outside ImageDecodeReason (whose values 1–6 the shim shares).
    internal const int Ok = 0;
    internal const int InvalidArgument = 7;
    internal const int NativeFailure = -1;

    [DllImport(NativeLibraries.Shim, EntryPoint = "entrupy_image_read_info")]
    internal static extern int ReadInfo(byte* data, nuint length, NativeImageInfo* info);

    [DllImport(NativeLibraries.Shim, EntryPoint = "entrupy_image_decode")]
    internal static extern int Decode(byte* data, nuint length, int channels, int alphaMode, int width, int height,
        int maxWidth, int maxHeight, byte* output, nuint outputLength);

    [DllImport(NativeLibraries.Shim, EntryPoint = "entrupy_image_encode_jpeg")]
    internal static extern int EncodeJpeg(byte* pixels, int width, int height, int channels, int quality,
        int subsampling, int progressive, nint* handle, byte** data, nuint* size);

    [DllImport(NativeLibraries.Shim, EntryPoint = "entrupy_image_encode_png")]
    internal static extern int EncodePng(byte* pixels, int width, int height, int channels, int compressionLevel,
        nint* handle, byte** data, nuint* size);

    [DllImport(NativeLibraries.Shim, EntryPoint = "entrupy_image_encoded_free")]
    internal static extern void FreeEncoded(nint handle);

    [DllImport(NativeLibraries.Shim, EntryPoint = "entrupy_image_versions")]
    private static extern int Versions(byte* buffer, int capacity);

    [DllImport(NativeLibraries.Shim, EntryPoint = "entrupy_last_error")]
    private static extern int LastError(byte* buffer, int capacity);

    /// <summary>The calling thread's last native error message.</summary>
    internal static string LastErrorMessage() => ReadString(&LastError);

    /// <summary>Versions of the codec libraries inside the shim.</summary>
    internal static string LibraryVersions() => ReadString(&Versions);

    private static string ReadString(delegate*<byte*, int, int> read)
    {
        Span<byte> small = stackalloc byte[512];
        fixed (byte* p = small)
        {
            int length = read(p, small.Length);
            if (length < small.Length) return Encoding.UTF8.GetString(small[..length]);
        }
        var large = new byte[read(null, 0) + 1];
        fixed (byte* p = large)
        {
            int length = read(p, large.Length);
            return Encoding.UTF8.GetString(large, 0, Math.Min(length, large.Length - 1));
        }
    }
}
