namespace Entrupy.Native.Imaging;

/// <summary>Why an image could not be decoded.</summary>
public enum ImageDecodeReason
{
    /// <summary>The input has zero bytes.</summary>
    Empty = 1,

    /// <summary>The input does not start with a JPEG, PNG or BMP signature.</summary>
    UnknownFormat = 2,

    /// <summary>The header declares more pixels (or a larger side) than the <see cref="DecodeLimits"/> allow.</summary>
    TooLarge = 3,

    /// <summary>The data ends before the image does (cut-off download or write).</summary>
    Truncated = 4,

    /// <summary>The data is damaged: bad checksum, invalid compressed stream, impossible header values.</summary>
    Corrupt = 5,

    /// <summary>A valid file using a feature this codec does not decode (CMYK JPEG, RLE BMP).</summary>
    Unsupported = 6,
}

/// <summary>An image could not be decoded; <see cref="Reason"/> says why, the message says what the decoder saw.</summary>
public sealed class ImageDecodeException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Category of the failure.</param>
    /// <param name="message">What went wrong, in words.</param>
    /// <param name="format">The format the data claimed to be, when known.</param>
    public ImageDecodeException(ImageDecodeReason reason, string message, ImageFormat? format = null)
        : base(message)
    {
        Reason = reason;
        Format = format;
    }

    /// <summary>Category of the failure.</summary>
    public ImageDecodeReason Reason { get; }

    /// <summary>The format the data's signature announced, or null when it was not recognised.</summary>
    public ImageFormat? Format { get; }
}
