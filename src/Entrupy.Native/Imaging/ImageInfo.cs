namespace Entrupy.Native.Imaging;

/// <summary>What an image's header declares, read without decoding any pixels.</summary>
/// <param name="Format">Container format.</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Channels">Stored colour channels excluding alpha: 1 (gray), 3 (colour, including palettes) or 4 (CMYK JPEG).</param>
/// <param name="HasAlpha">True when the file carries an alpha channel or PNG tRNS transparency.</param>
/// <param name="BitsPerSample">Bits per stored sample: 1–16 for PNG, 8 for JPEG and BMP.</param>
/// <param name="Interlaced">True for Adam7 PNGs and progressive JPEGs.</param>
public sealed record ImageInfo(
    ImageFormat Format, int Width, int Height, int Channels, bool HasAlpha, int BitsPerSample, bool Interlaced)
{
    /// <summary>Width × height.</summary>
    public long PixelCount => (long)Width * Height;
}
