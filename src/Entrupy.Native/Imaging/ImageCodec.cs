using static Entrupy.Native.Imaging.ImageNative;

namespace Entrupy.Native.Imaging;

/// <summary>
/// Decodes JPEG, PNG and BMP bytes to 8-bit gray or RGB pixels and encodes pixels as JPEG or PNG, through
/// libjpeg-turbo, libspng and stb_image in our native shim. Thread-safe; every call is independent.
/// </summary>
/// <remarks>
/// Safety: the header is read first and checked against <see cref="DecodeLimits"/>; only then is the
/// output array allocated (managed, exactly width × height × channels) and filled by the native decoder,
/// which refuses to write unless the file's dimensions match it. Strictness: a JPEG that libjpeg would
/// "repair" with grey (any libjpeg warning, e.g. a cut-off scan), a PNG without a complete IEND chunk, and
/// a BMP shorter than its declared rows are all rejected rather than returned with invented pixels.
/// Colour to gray uses BT.601 luma (the weights libjpeg uses); gray to RGB replicates the value.
/// 16-bit PNG samples are rounded to 8 bits.
/// </remarks>
public static class ImageCodec
{
    /// <summary>Versions of the codec libraries, e.g. "libjpeg-turbo 2.1.5 (TurboJPEG, build-time); libspng 0.7.3; stb_image 2.27 (BMP)".</summary>
    public static string Versions
    {
        get
        {
            NativeLibraries.EnsureRegistered();
            return LibraryVersions();
        }
    }

    /// <summary>Reads the header only: format, dimensions and channels. Allocates no pixel memory.</summary>
    /// <param name="data">The encoded file.</param>
    /// <exception cref="ImageDecodeException">Empty, unrecognised, truncated or corrupt header.</exception>
    public static unsafe ImageInfo ReadInfo(ReadOnlySpan<byte> data)
    {
        NativeLibraries.EnsureRegistered();
        if (data.IsEmpty) throw new ImageDecodeException(ImageDecodeReason.Empty, "The image is empty (zero bytes).");
        NativeImageInfo native;
        int status;
        fixed (byte* p = data) status = ImageNative.ReadInfo(p, (nuint)data.Length, &native);
        if (status != Ok) throw Failure(status, native.Format == 0 ? null : (ImageFormat)native.Format);
        return new ImageInfo((ImageFormat)native.Format, native.Width, native.Height, native.Channels,
            native.HasAlpha != 0, native.BitsPerSample, native.Interlaced != 0);
    }

    /// <summary>Decodes an image to 8-bit pixels in the requested layout.</summary>
    /// <param name="data">The encoded file.</param>
    /// <param name="format">Output layout: colour images asked for as gray are converted, gray ones asked for as RGB expanded.</param>
    /// <param name="limits">Size ceilings; <see cref="DecodeLimits.Default"/> when null.</param>
    /// <param name="alpha">What to do with transparency (default: discard it).</param>
    /// <exception cref="ImageDecodeException">The data is not a decodable image within the limits; see <see cref="ImageDecodeException.Reason"/>.</exception>
    public static DecodedImage Decode(ReadOnlySpan<byte> data, PixelFormat format, DecodeLimits? limits = null,
        AlphaHandling alpha = AlphaHandling.Discard)
    {
        CheckArguments(format, alpha);
        limits ??= DecodeLimits.Default;
        CheckInputLength(data, limits);
        var info = ReadInfo(data);
        var size = DecodedSize(info, format, limits);
        // Uninitialised is safe: the decoder writes every byte or fails, and on failure the array is dropped.
        var pixels = GC.AllocateUninitializedArray<byte>(size);
        DecodeCore(data, info, format, pixels, limits, alpha);
        return new DecodedImage(info.Width, info.Height, format, pixels, info.Format);
    }

    /// <summary>
    /// Bytes needed to decode an image with header <paramref name="info"/> as <paramref name="format"/>, after checking the
    /// header against <paramref name="limits"/>: call this before allocating or renting a buffer for <see cref="DecodeInto"/>.
    /// </summary>
    /// <param name="info">The header, from <see cref="ReadInfo"/>.</param>
    /// <param name="format">Output layout.</param>
    /// <param name="limits">Size ceilings; <see cref="DecodeLimits.Default"/> when null.</param>
    /// <exception cref="ImageDecodeException">The header exceeds the limits (<see cref="ImageDecodeReason.TooLarge"/>).</exception>
    public static int DecodedSize(ImageInfo info, PixelFormat format, DecodeLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(info);
        CheckArguments(format, AlphaHandling.Discard);
        CheckLimits(info, format, limits ?? DecodeLimits.Default);
        return info.Width * info.Height * (int)format;
    }

    /// <summary>
    /// Decodes into a caller-owned buffer (for example one rented from <see cref="System.Buffers.ArrayPool{T}"/>), so
    /// decoding many images allocates no pixel memory. Same checks and output as <see cref="Decode"/>.
    /// </summary>
    /// <param name="data">The encoded file.</param>
    /// <param name="info">Its header, from <see cref="ReadInfo"/> on the same bytes.</param>
    /// <param name="format">Output layout.</param>
    /// <param name="destination">At least <see cref="DecodedSize"/> bytes; the first that many receive the rows, tightly packed.</param>
    /// <param name="limits">Size ceilings; <see cref="DecodeLimits.Default"/> when null.</param>
    /// <param name="alpha">What to do with transparency (default: discard it).</param>
    /// <returns>The number of bytes written (width × height × channels).</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small, or <paramref name="info"/> is not the header of <paramref name="data"/>.</exception>
    /// <exception cref="ImageDecodeException">The data is not a decodable image within the limits.</exception>
    public static int DecodeInto(ReadOnlySpan<byte> data, ImageInfo info, PixelFormat format, Span<byte> destination,
        DecodeLimits? limits = null, AlphaHandling alpha = AlphaHandling.Discard)
    {
        ArgumentNullException.ThrowIfNull(info);
        CheckArguments(format, alpha);
        limits ??= DecodeLimits.Default;
        CheckInputLength(data, limits);
        var size = DecodedSize(info, format, limits);
        if (destination.Length < size)
            throw new ArgumentException($"{info.Width}×{info.Height} {format} needs {size} bytes; the destination has {destination.Length}.", nameof(destination));
        DecodeCore(data, info, format, destination[..size], limits, alpha);
        return size;
    }

    private static unsafe void DecodeCore(ReadOnlySpan<byte> data, ImageInfo info, PixelFormat format, Span<byte> pixels,
        DecodeLimits limits, AlphaHandling alpha)
    {
        NativeLibraries.EnsureRegistered();
        if (data.IsEmpty) throw new ImageDecodeException(ImageDecodeReason.Empty, "The image is empty (zero bytes).");
        int status;
        fixed (byte* input = data)
        fixed (byte* output = pixels)
        {
            status = ImageNative.Decode(input, (nuint)data.Length, (int)format, (int)alpha, info.Width, info.Height,
                limits.MaxWidth, limits.MaxHeight, output, (nuint)pixels.Length);
        }
        if (status == InvalidArgument)
            throw new ArgumentException($"The image header is not {info.Width}×{info.Height} as given: {LastErrorMessage()}", nameof(info));
        if (status != Ok) throw Failure(status, info.Format);
    }

    private static void CheckArguments(PixelFormat format, AlphaHandling alpha)
    {
        if (format is not (PixelFormat.Gray8 or PixelFormat.Rgb8))
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown pixel format.");
        if (alpha is < AlphaHandling.Discard or > AlphaHandling.CompositeOverWhite)
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "Unknown alpha handling.");
    }

    private static void CheckInputLength(ReadOnlySpan<byte> data, DecodeLimits limits)
    {
        if (data.Length > limits.MaxInputBytes)
            throw new ImageDecodeException(ImageDecodeReason.TooLarge,
                $"The input is {data.Length} bytes; the limit is {limits.MaxInputBytes}.");
    }

    /// <summary>Encodes 8-bit pixels as a JPEG (accurate DCT; baseline unless <paramref name="progressive"/>).</summary>
    /// <param name="pixels">width × height × channels bytes, row-major, tightly packed.</param>
    /// <param name="width">Width in pixels (1–65500).</param>
    /// <param name="height">Height in pixels (1–65500).</param>
    /// <param name="format">Layout of <paramref name="pixels"/>; gray encodes a single-component JPEG.</param>
    /// <param name="quality">1 (smallest) to 100 (best).</param>
    /// <param name="subsampling">Chroma subsampling for colour input.</param>
    /// <param name="progressive">Write a progressive JPEG (several scans of increasing detail).</param>
    public static unsafe byte[] EncodeJpeg(ReadOnlySpan<byte> pixels, int width, int height, PixelFormat format,
        int quality = 90, JpegSubsampling subsampling = JpegSubsampling.Chroma444, bool progressive = false)
    {
        CheckRaster(pixels, width, height, format, maxSide: 65500);
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        if (subsampling is < JpegSubsampling.Chroma444 or > JpegSubsampling.Chroma420)
            throw new ArgumentOutOfRangeException(nameof(subsampling), subsampling, "Unknown subsampling.");
        NativeLibraries.EnsureRegistered();
        nint handle;
        byte* data;
        nuint size;
        int status;
        fixed (byte* p = pixels)
            status = ImageNative.EncodeJpeg(p, width, height, (int)format, quality, (int)subsampling, progressive ? 1 : 0,
                &handle, &data, &size);
        return TakeEncoded(status, handle, data, size, "JPEG");
    }

    /// <summary>Encodes a decoded or synthesised image as a JPEG.</summary>
    /// <param name="image">The pixels.</param>
    /// <param name="quality">1 (smallest) to 100 (best).</param>
    /// <param name="subsampling">Chroma subsampling for colour input.</param>
    /// <param name="progressive">Write a progressive JPEG (several scans of increasing detail).</param>
    public static byte[] EncodeJpeg(DecodedImage image, int quality = 90,
        JpegSubsampling subsampling = JpegSubsampling.Chroma444, bool progressive = false)
    {
        ArgumentNullException.ThrowIfNull(image);
        return EncodeJpeg(image.Pixels, image.Width, image.Height, image.Format, quality, subsampling, progressive);
    }

    /// <summary>Encodes 8-bit pixels as a lossless PNG (8-bit gray or RGB, not interlaced).</summary>
    /// <param name="pixels">width × height × channels bytes, row-major, tightly packed.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    /// <param name="format">Layout of <paramref name="pixels"/>.</param>
    /// <param name="compressionLevel">zlib level, 0 (fastest) to 9 (smallest).</param>
    public static unsafe byte[] EncodePng(ReadOnlySpan<byte> pixels, int width, int height, PixelFormat format,
        int compressionLevel = 6)
    {
        CheckRaster(pixels, width, height, format, maxSide: 65500);
        ArgumentOutOfRangeException.ThrowIfNegative(compressionLevel);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(compressionLevel, 9);
        NativeLibraries.EnsureRegistered();
        nint handle;
        byte* data;
        nuint size;
        int status;
        fixed (byte* p = pixels)
            status = ImageNative.EncodePng(p, width, height, (int)format, compressionLevel, &handle, &data, &size);
        return TakeEncoded(status, handle, data, size, "PNG");
    }

    /// <summary>Encodes a decoded or synthesised image as a PNG.</summary>
    /// <param name="image">The pixels.</param>
    /// <param name="compressionLevel">zlib level, 0 (fastest) to 9 (smallest).</param>
    public static byte[] EncodePng(DecodedImage image, int compressionLevel = 6)
    {
        ArgumentNullException.ThrowIfNull(image);
        return EncodePng(image.Pixels, image.Width, image.Height, image.Format, compressionLevel);
    }

    private static void CheckLimits(ImageInfo info, PixelFormat format, DecodeLimits limits)
    {
        long outputBytes = info.PixelCount * (int)format;
        if (info.Width > limits.MaxWidth || info.Height > limits.MaxHeight || info.PixelCount > limits.MaxPixels ||
            outputBytes > Array.MaxLength)
        {
            throw new ImageDecodeException(ImageDecodeReason.TooLarge,
                $"The {info.Format} header declares {info.Width}×{info.Height} ({info.PixelCount} pixels); the limits are " +
                $"{limits.MaxWidth}×{limits.MaxHeight} and {limits.MaxPixels} pixels.", info.Format);
        }
    }

    private static void CheckRaster(ReadOnlySpan<byte> pixels, int width, int height, PixelFormat format, int maxSide)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, maxSide);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, maxSide);
        if (format is not (PixelFormat.Gray8 or PixelFormat.Rgb8))
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown pixel format.");
        long expected = (long)width * height * (int)format;
        if (pixels.Length != expected)
            throw new ArgumentException($"{width}×{height} {format} needs {expected} bytes, got {pixels.Length}.", nameof(pixels));
    }

    private static unsafe byte[] TakeEncoded(int status, nint handle, byte* data, nuint size, string what)
    {
        try
        {
            if (status != Ok) throw new InvalidOperationException($"{what} encoding failed: {LastErrorMessage()}");
            return new ReadOnlySpan<byte>(data, checked((int)size)).ToArray();
        }
        finally
        {
            FreeEncoded(handle);
        }
    }

    private static Exception Failure(int status, ImageFormat? format)
    {
        string message = LastErrorMessage();
        return status switch
        {
            >= (int)ImageDecodeReason.Empty and <= (int)ImageDecodeReason.Unsupported =>
                new ImageDecodeException((ImageDecodeReason)status, message, format),
            _ => new InvalidOperationException($"The native image decoder failed (status {status}): {message}"),
        };
    }
}
