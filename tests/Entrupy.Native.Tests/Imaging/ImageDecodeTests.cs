using Entrupy.Native.Imaging;
using static Entrupy.Native.Tests.Imaging.ImageFixtures;

namespace Entrupy.Native.Tests.Imaging;

public class ImageDecodeTests
{
    [Theory]
    [InlineData("gray8.png", "gray8")]
    [InlineData("rgb8.png", "rgb8")]
    [InlineData("gray16.png", "gray16")]                 // 16-bit samples rounded to 8 bits
    [InlineData("rgb16.png", "rgb16")]
    [InlineData("gray1.png", "gray1")]                   // 1-bit gray scaled to 0/255
    [InlineData("palette4.png", "palette4")]             // 4-bit palette indices
    [InlineData("palette8-trns.png", "palette8-trns.discard")]
    [InlineData("rgba8.png", "rgba8.discard")]
    [InlineData("graya8.png", "graya8.discard")]
    [InlineData("rgb8-interlaced.png", "rgb8")]          // Adam7
    [InlineData("rgb8-chunks.png", "rgb8")]              // tEXt, gAMA, pHYs and a private chunk are skipped
    [InlineData("gray16-interlaced.png", "gray16")]
    [InlineData("rgb24.bmp", "rgb24")]
    public void LosslessFixturesDecodeToExactPixels(string file, string expectedStem)
    {
        var expected = Expected(expectedStem);
        var image = ImageCodec.Decode(Bytes(file), expected.Format);

        Assert.Equal(expected.Width, image.Width);
        Assert.Equal(expected.Height, image.Height);
        Assert.Equal(expected.Format, image.Format);
        Assert.Equal(expected.Pixels, image.Pixels);
    }

    [Theory]
    [InlineData("rgba8.png", "rgba8.over-white", AlphaHandling.CompositeOverWhite)]
    [InlineData("rgba8.png", "rgba8.over-black", AlphaHandling.CompositeOverBlack)]
    [InlineData("palette8-trns.png", "palette8-trns.over-white", AlphaHandling.CompositeOverWhite)]
    public void AlphaIsCompositedWhenAsked(string file, string expectedStem, AlphaHandling alpha)
    {
        var expected = Expected(expectedStem);
        var image = ImageCodec.Decode(Bytes(file), PixelFormat.Rgb8, alpha: alpha);
        Assert.Equal(expected.Pixels, image.Pixels);
        Assert.NotEqual(Expected(expectedStem.Split('.')[0] + ".discard").Pixels, image.Pixels);
    }

    [Theory]
    [InlineData("rgb8.png")]
    [InlineData("rgb8-interlaced.png")]
    [InlineData("palette4.png")]
    [InlineData("rgb24.bmp")]
    public void ColourAskedForAsGrayIsLuma(string file)
    {
        var rgb = ImageCodec.Decode(Bytes(file), PixelFormat.Rgb8);
        var gray = ImageCodec.Decode(Bytes(file), PixelFormat.Gray8);

        Assert.Equal(PixelFormat.Gray8, gray.Format);
        Assert.Equal(rgb.Width * rgb.Height, gray.Pixels.Length);
        Assert.Equal(ToGray(rgb), gray.Pixels);
    }

    [Fact]
    public void SixteenBitColourAsGrayIsLumaOfTheFullPrecisionSamples()
    {
        // Luma is taken before rounding to 8 bits, so it may differ by one from luma of the rounded RGB.
        var gray = ImageCodec.Decode(Bytes("rgb16.png"), PixelFormat.Gray8).Pixels;
        var (max, _) = Difference(gray, ToGray(Expected("rgb16")));
        Assert.True(max <= 1, $"max difference {max}");
    }

    [Fact]
    public void RgbPngAsGrayMatchesTheIndependentLumaExpectation() =>
        Assert.Equal(Expected("rgb8.luma").Pixels, ImageCodec.Decode(Bytes("rgb8.png"), PixelFormat.Gray8).Pixels);

    [Theory]
    [InlineData("gray8.png", "gray8")]
    [InlineData("gray16.png", "gray16")]
    [InlineData("graya8.png", "graya8.discard")]
    public void GrayAskedForAsRgbIsReplicated(string file, string expectedStem)
    {
        var gray = Expected(expectedStem).Pixels;
        var rgb = ImageCodec.Decode(Bytes(file), PixelFormat.Rgb8);

        Assert.Equal(PixelFormat.Rgb8, rgb.Format);
        Assert.Equal(3, rgb.Channels);
        for (int i = 0; i < gray.Length; i++)
        {
            Assert.Equal(gray[i], rgb.Pixels[3 * i]);
            Assert.Equal(gray[i], rgb.Pixels[3 * i + 1]);
            Assert.Equal(gray[i], rgb.Pixels[3 * i + 2]);
        }
    }

    [Fact]
    public void GrayJpegFromAnIndependentEncoderMatchesItsSource()
    {
        var expected = Expected("gray-smooth");
        var image = ImageCodec.Decode(Bytes("gray-smooth.jpg"), PixelFormat.Gray8);

        Assert.Equal((expected.Width, expected.Height), (image.Width, image.Height));
        var (max, mean) = Difference(image.Pixels, expected.Pixels);
        Assert.True(max <= 3 && mean < 0.5, $"max {max}, mean {mean:F3}");
    }

    [Fact]
    public void ColourJpegFromAnIndependentEncoderMatchesItsSource()
    {
        var expected = Expected("rgb-smooth");
        var image = ImageCodec.Decode(Bytes("rgb-smooth.jpg"), PixelFormat.Rgb8);

        var (max, mean) = Difference(image.Pixels, expected.Pixels);
        Assert.True(max <= 6 && mean < 1.5, $"max {max}, mean {mean:F3}");
    }

    [Fact]
    public void ColourJpegAsGrayIsCloseToTheSourceLuma()
    {
        var expectedGray = ToGray(Expected("rgb-smooth"));
        var image = ImageCodec.Decode(Bytes("rgb-smooth.jpg"), PixelFormat.Gray8);

        var (max, mean) = Difference(image.Pixels, expectedGray);
        Assert.True(max <= 3 && mean < 1.0, $"max {max}, mean {mean:F3}");
    }

    [Fact]
    public void GrayJpegAsRgbIsReplicated()
    {
        var gray = ImageCodec.Decode(Bytes("gray-smooth.jpg"), PixelFormat.Gray8);
        var rgb = ImageCodec.Decode(Bytes("gray-smooth.jpg"), PixelFormat.Rgb8);
        for (int i = 0; i < gray.Pixels.Length; i++)
        {
            Assert.Equal(gray.Pixels[i], rgb.Pixels[3 * i]);
            Assert.Equal(gray.Pixels[i], rgb.Pixels[3 * i + 1]);
            Assert.Equal(gray.Pixels[i], rgb.Pixels[3 * i + 2]);
        }
    }

    [Theory]
    [InlineData("gray8.png", ImageFormat.Png, 33, 17, 1, false, 8, false)]
    [InlineData("rgba8.png", ImageFormat.Png, 33, 17, 3, true, 8, false)]
    [InlineData("palette8-trns.png", ImageFormat.Png, 33, 17, 3, true, 8, false)]
    [InlineData("gray16-interlaced.png", ImageFormat.Png, 33, 17, 1, false, 16, true)]
    [InlineData("gray1.png", ImageFormat.Png, 33, 17, 1, false, 1, false)]
    [InlineData("gray-smooth.jpg", ImageFormat.Jpeg, 52, 40, 1, false, 8, false)]
    [InlineData("rgb-smooth.jpg", ImageFormat.Jpeg, 52, 40, 3, false, 8, false)]
    [InlineData("cmyk.jpg", ImageFormat.Jpeg, 16, 16, 4, false, 8, false)]
    [InlineData("rgb24.bmp", ImageFormat.Bmp, 13, 9, 3, false, 8, false)]
    public void ReadInfoReportsTheHeader(string file, ImageFormat format, int width, int height, int channels,
        bool hasAlpha, int bits, bool interlaced)
    {
        var info = ImageCodec.ReadInfo(Bytes(file));
        Assert.Equal(new ImageInfo(format, width, height, channels, hasAlpha, bits, interlaced), info);
    }

    [Fact]
    public void DecodedImageRecordsItsSourceAndRows()
    {
        var image = ImageCodec.Decode(Bytes("rgb8.png"), PixelFormat.Rgb8);
        Assert.Equal(ImageFormat.Png, image.SourceFormat);
        Assert.Equal(33 * 3, image.Stride);
        Assert.Equal(image.Pixels.AsSpan(5 * image.Stride, image.Stride).ToArray(), image.Row(5).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => image.Row(image.Height));
    }

    [Fact]
    public void VersionsNameTheLibraries()
    {
        var versions = ImageCodec.Versions;
        Assert.Matches(@"libjpeg-turbo \d+\.\d+\.\d+", versions);
        Assert.Matches(@"libspng \d+\.\d+\.\d+", versions);
        Assert.Matches(@"libdeflate \d+\.\d+", versions);
        Assert.Contains("stb_image", versions);
    }

    [Fact]
    public void ConcurrentDecodesAgree()
    {
        var files = Decodable.Select(f => (File: f, Data: Bytes(f))).ToArray();
        var reference = files.Select(f => ImageCodec.Decode(f.Data, PixelFormat.Rgb8).Pixels).ToArray();
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            int k = i % files.Length;
            Assert.Equal(reference[k], ImageCodec.Decode(files[k].Data, PixelFormat.Rgb8).Pixels);
            // Failures interleaved with successes: error state is per call/thread, never shared.
            var ex = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(files[k].Data.AsSpan(0, 20), PixelFormat.Gray8));
            Assert.Equal(ImageDecodeReason.Truncated, ex.Reason);
            Assert.False(string.IsNullOrWhiteSpace(ex.Message));
        });
    }
}
