using Entrupy.Native.Imaging;
using static Entrupy.Native.Tests.Imaging.ImageFixtures;

namespace Entrupy.Native.Tests.Imaging;

public class ImageEncodeTests
{
    private static byte[] Pattern(int width, int height, int channels, int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * channels];
        random.NextBytes(pixels);
        return pixels;
    }

    [Theory]
    [InlineData(PixelFormat.Gray8, 1, 1)]
    [InlineData(PixelFormat.Gray8, 37, 23)]
    [InlineData(PixelFormat.Rgb8, 37, 23)]
    [InlineData(PixelFormat.Rgb8, 256, 3)]
    public void PngRoundTripIsLossless(PixelFormat format, int width, int height)
    {
        var pixels = Pattern(width, height, (int)format, seed: width * 31 + height);
        var png = ImageCodec.EncodePng(pixels, width, height, format);

        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        var info = ImageCodec.ReadInfo(png);
        Assert.Equal((ImageFormat.Png, width, height, (int)format, 8), (info.Format, info.Width, info.Height, info.Channels, info.BitsPerSample));
        Assert.Equal(pixels, ImageCodec.Decode(png, format).Pixels);
    }

    [Fact]
    public void PngCompressionLevelTradesSizeNotContent()
    {
        var image = ImageCodec.Decode(Bytes("rgb8.png"), PixelFormat.Rgb8);
        var stored = ImageCodec.EncodePng(image, compressionLevel: 0);
        var packed = ImageCodec.EncodePng(image, compressionLevel: 9);

        Assert.True(packed.Length < stored.Length, $"level 9 {packed.Length} bytes vs level 0 {stored.Length}");
        Assert.Equal(image.Pixels, ImageCodec.Decode(stored, PixelFormat.Rgb8).Pixels);
        Assert.Equal(image.Pixels, ImageCodec.Decode(packed, PixelFormat.Rgb8).Pixels);
    }

    [Theory]
    [InlineData(PixelFormat.Gray8, (byte)128)]
    [InlineData(PixelFormat.Gray8, (byte)3)]
    [InlineData(PixelFormat.Rgb8, (byte)200)]
    public void FlatJpegDecodesToItsValue(PixelFormat format, byte value)
    {
        // A flat image is pure DC: quantisation cannot move it, so the known value must come back (±1).
        const int width = 40, height = 24;
        var pixels = Enumerable.Repeat(value, width * height * (int)format).ToArray();
        var jpeg = ImageCodec.EncodeJpeg(pixels, width, height, format, quality: 75);

        var decoded = ImageCodec.Decode(jpeg, format);
        Assert.True(decoded.Pixels.All(p => Math.Abs(p - value) <= 1), $"values {decoded.Pixels.Min()}..{decoded.Pixels.Max()}");
    }

    [Fact]
    public void FlatColourJpegKeepsItsHue()
    {
        const int width = 16, height = 16;
        var pixels = new byte[width * height * 3];
        for (int i = 0; i < width * height; i++) (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]) = ((byte)200, (byte)40, (byte)90);

        foreach (var subsampling in Enum.GetValues<JpegSubsampling>())
        {
            var decoded = ImageCodec.Decode(ImageCodec.EncodeJpeg(pixels, width, height, PixelFormat.Rgb8, 90, subsampling), PixelFormat.Rgb8);
            var (max, _) = Difference(decoded.Pixels, pixels);
            Assert.True(max <= 3, $"{subsampling}: max difference {max}");
        }
    }

    [Theory]
    [InlineData("gray-smooth", PixelFormat.Gray8)]
    [InlineData("rgb-smooth", PixelFormat.Rgb8)]
    public void JpegRoundTripOfASmoothImageStaysClose(string stem, PixelFormat format)
    {
        var source = Expected(stem);
        var decoded = ImageCodec.Decode(ImageCodec.EncodeJpeg(source, quality: 95), format);

        var (max, mean) = Difference(decoded.Pixels, source.Pixels);
        Assert.True(max <= 12 && mean < 2.0, $"max {max}, mean {mean:F3}");
    }

    [Fact]
    public void JpegQualityControlsSizeAndError()
    {
        var source = Expected("rgb-smooth");
        var low = ImageCodec.EncodeJpeg(source, quality: 20);
        var high = ImageCodec.EncodeJpeg(source, quality: 98);
        Assert.True(low.Length < high.Length, $"q20 {low.Length} bytes, q98 {high.Length} bytes");

        var lowError = Difference(ImageCodec.Decode(low, PixelFormat.Rgb8).Pixels, source.Pixels).Mean;
        var highError = Difference(ImageCodec.Decode(high, PixelFormat.Rgb8).Pixels, source.Pixels).Mean;
        Assert.True(highError < lowError, $"q98 error {highError:F3}, q20 error {lowError:F3}");
    }

    [Theory]
    [InlineData("gray-smooth", PixelFormat.Gray8)]
    [InlineData("rgb-smooth", PixelFormat.Rgb8)]
    public void ProgressiveJpegDecodesLikeBaseline(string stem, PixelFormat format)
    {
        var source = Expected(stem);
        var progressive = ImageCodec.EncodeJpeg(source, quality: 92, progressive: true);
        var baseline = ImageCodec.EncodeJpeg(source, quality: 92);

        Assert.True(ImageCodec.ReadInfo(progressive).Interlaced);
        Assert.False(ImageCodec.ReadInfo(baseline).Interlaced);
        // Same quantised coefficients, different scan order: the pixels agree up to IDCT rounding.
        var (max, _) = Difference(ImageCodec.Decode(progressive, format).Pixels, ImageCodec.Decode(baseline, format).Pixels);
        Assert.True(max <= 1, $"max difference {max}");

        var ex = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(progressive.AsSpan(0, progressive.Length * 2 / 3), format));
        Assert.Equal(ImageDecodeReason.Truncated, ex.Reason);
    }

    [Fact]
    public void GrayJpegIsSingleComponent()
    {
        var jpeg = ImageCodec.EncodeJpeg(Expected("gray-smooth"));
        Assert.Equal(1, ImageCodec.ReadInfo(jpeg).Channels);
        Assert.Equal(3, ImageCodec.ReadInfo(ImageCodec.EncodeJpeg(Expected("rgb-smooth"))).Channels);
    }

    [Fact]
    public void EncodersRejectInconsistentArguments()
    {
        var pixels = new byte[12];
        Assert.Throws<ArgumentException>(() => ImageCodec.EncodePng(pixels, 2, 2, PixelFormat.Gray8));   // 12 != 4
        Assert.Throws<ArgumentException>(() => ImageCodec.EncodeJpeg(pixels, 3, 3, PixelFormat.Rgb8));   // 12 != 27
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageCodec.EncodePng(pixels, 0, 12, PixelFormat.Gray8));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageCodec.EncodeJpeg(pixels, 2, 2, PixelFormat.Rgb8, quality: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageCodec.EncodeJpeg(pixels, 2, 2, PixelFormat.Rgb8, quality: 101));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageCodec.EncodePng(pixels, 2, 2, PixelFormat.Rgb8, compressionLevel: 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageCodec.EncodePng(pixels, 2, 2, (PixelFormat)2));
        Assert.Throws<ArgumentException>(() => new DecodedImage(2, 3, PixelFormat.Rgb8, pixels));
    }
}
