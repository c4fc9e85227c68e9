namespace Entrupy.Native.Imaging;

/// <summary>8-bit pixels in memory: rows top to bottom, tightly packed (stride = width × channels).</summary>
public sealed class DecodedImage
{
    /// <summary>Wraps existing pixels (no copy).</summary>
    /// <param name="width">Width in pixels (at least 1).</param>
    /// <param name="height">Height in pixels (at least 1).</param>
    /// <param name="format">Pixel layout.</param>
    /// <param name="pixels">Exactly width × height × channels bytes.</param>
    /// <param name="sourceFormat">Format the pixels were decoded from, or null when they were made in memory.</param>
    public DecodedImage(int width, int height, PixelFormat format, byte[] pixels, ImageFormat? sourceFormat = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(pixels);
        if (format is not (PixelFormat.Gray8 or PixelFormat.Rgb8))
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown pixel format.");
        if (pixels.LongLength != (long)width * height * (int)format)
            throw new ArgumentException(
                $"{width}×{height} {format} needs {(long)width * height * (int)format} bytes, got {pixels.LongLength}.",
                nameof(pixels));
        Width = width;
        Height = height;
        Format = format;
        Pixels = pixels;
        SourceFormat = sourceFormat;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Pixel layout.</summary>
    public PixelFormat Format { get; }

    /// <summary>Bytes per pixel: 1 for <see cref="PixelFormat.Gray8"/>, 3 for <see cref="PixelFormat.Rgb8"/>.</summary>
    public int Channels => (int)Format;

    /// <summary>Bytes per row (width × channels; there is no padding).</summary>
    public int Stride => Width * Channels;

    /// <summary>The pixels, row-major, <see cref="Stride"/> bytes per row.</summary>
    public byte[] Pixels { get; }

    /// <summary>Format the pixels were decoded from, or null when they were made in memory.</summary>
    public ImageFormat? SourceFormat { get; }

    /// <summary>The bytes of row <paramref name="y"/> (0 = top).</summary>
    public Span<byte> Row(int y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(y, Height);
        return Pixels.AsSpan(y * Stride, Stride);
    }
}
