namespace Entrupy.Native.Imaging;

/// <summary>Container formats the codec recognises by their signature.</summary>
public enum ImageFormat
{
    /// <summary>JPEG/JFIF (baseline or progressive; grayscale, YCbCr or RGB), decoded by libjpeg-turbo.</summary>
    Jpeg = 1,

    /// <summary>PNG (every colour type and bit depth, interlaced or not), decoded by libspng.</summary>
    Png = 2,

    /// <summary>Uncompressed Windows BMP (1–32 bits per pixel), decoded by stb_image after a size check.</summary>
    Bmp = 3,
}

/// <summary>Layout of decoded or to-be-encoded pixels: 8 bits per sample, rows tightly packed, top row first.</summary>
public enum PixelFormat
{
    /// <summary>One luminance byte per pixel.</summary>
    Gray8 = 1,

    /// <summary>Three bytes per pixel in R, G, B order.</summary>
    Rgb8 = 3,
}

/// <summary>What decoding does with an alpha channel (or PNG tRNS transparency), since the outputs have none.</summary>
public enum AlphaHandling
{
    /// <summary>Drop alpha and keep the colour samples as stored (no invented values; the default).</summary>
    Discard = 0,

    /// <summary>Blend each pixel over black: colour × alpha.</summary>
    CompositeOverBlack = 1,

    /// <summary>Blend each pixel over white: colour × alpha + 255 × (1 − alpha).</summary>
    CompositeOverWhite = 2,
}

/// <summary>Chroma subsampling for colour JPEG encoding (ignored for grayscale).</summary>
public enum JpegSubsampling
{
    /// <summary>Full-resolution chroma: best fidelity, largest files.</summary>
    Chroma444 = 0,

    /// <summary>Chroma halved horizontally.</summary>
    Chroma422 = 1,

    /// <summary>Chroma halved in both directions: what most cameras write.</summary>
    Chroma420 = 2,
}
