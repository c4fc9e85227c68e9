namespace Entrupy.Native.Imaging;

/// <summary>
/// Ceilings checked against an image's header before any pixel memory is allocated, so a small file that
/// declares a huge image (a "decompression bomb") is rejected with <see cref="ImageDecodeReason.TooLarge"/>.
/// </summary>
public sealed record DecodeLimits
{
    /// <summary>Largest accepted side by default.</summary>
    public const int DefaultMaxSide = 16384;

    /// <summary>Largest accepted pixel count by default: 64 Mi pixels (192 MiB as RGB).</summary>
    public const long DefaultMaxPixels = 64L * 1024 * 1024;

    /// <summary>Largest accepted input by default: 256 MiB.</summary>
    public const long DefaultMaxInputBytes = 256L * 1024 * 1024;

    /// <summary>The defaults: 16384 per side, 64 Mi pixels, 256 MiB of input.</summary>
    public static DecodeLimits Default { get; } = new();

    private readonly int maxWidth = DefaultMaxSide;
    private readonly int maxHeight = DefaultMaxSide;
    private readonly long maxPixels = DefaultMaxPixels;
    private readonly long maxInputBytes = DefaultMaxInputBytes;

    /// <summary>Largest accepted width in pixels (at least 1).</summary>
    public int MaxWidth { get => maxWidth; init => maxWidth = Positive(value); }

    /// <summary>Largest accepted height in pixels (at least 1).</summary>
    public int MaxHeight { get => maxHeight; init => maxHeight = Positive(value); }

    /// <summary>Largest accepted width × height (at least 1).</summary>
    public long MaxPixels { get => maxPixels; init => maxPixels = Positive(value); }

    /// <summary>Largest accepted encoded input in bytes (at least 1).</summary>
    public long MaxInputBytes { get => maxInputBytes; init => maxInputBytes = Positive(value); }

    private static T Positive<T>(T value) where T : System.Numerics.INumber<T>
    {
        if (value <= T.Zero) throw new ArgumentOutOfRangeException(nameof(value), value, "Limits must be positive.");
        return value;
    }
}
