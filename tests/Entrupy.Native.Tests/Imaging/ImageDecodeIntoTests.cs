using System.Buffers;
using Entrupy.Native.Imaging;
using static Entrupy.Native.Tests.Imaging.ImageFixtures;

namespace Entrupy.Native.Tests.Imaging;

/// <summary>
/// Decoding into caller buffers, and the PNG path that lets libspng write 8-bit gray/RGB rows straight into the output
/// (it must give exactly what the general RGBA path gives, and must not be taken when transparency is composited).
/// </summary>
public class ImageDecodeIntoTests
{
    private static byte[] RandomPixels(int count, int seed)
    {
        var pixels = new byte[count];
        new Random(seed).NextBytes(pixels);
        // Smooth runs as well as noise, so every PNG row filter gets used by the encoder.
        for (var i = 0; i < count / 3; i++) pixels[i] = (byte)(i / 7);
        return pixels;
    }

    [Theory]
    [InlineData(1, 257, 131)]
    [InlineData(3, 200, 97)]
    public void Eight_bit_png_in_its_own_layout_equals_the_general_path(int channels, int width, int height)
    {
        var format = channels == 1 ? PixelFormat.Gray8 : PixelFormat.Rgb8;
        var pixels = RandomPixels(width * height * channels, seed: width);
        var png = ImageCodec.EncodePng(pixels, width, height, format);

        // Same layout: the direct path. The other layout goes through RGBA and the pixel converter.
        var direct = ImageCodec.Decode(png, format);
        Assert.Equal(pixels, direct.Pixels);
        var other = ImageCodec.Decode(png, channels == 1 ? PixelFormat.Rgb8 : PixelFormat.Gray8);
        if (channels == 1)
            for (var i = 0; i < pixels.Length; i++)
                Assert.True(other.Pixels[3 * i] == pixels[i] && other.Pixels[3 * i + 1] == pixels[i] && other.Pixels[3 * i + 2] == pixels[i], $"pixel {i}");
        else
            Assert.Equal(ToGray(direct), other.Pixels);
    }

    [Fact]
    public void Gray_png_with_trns_is_composited_when_asked_and_kept_when_discarded()
    {
        const int width = 40, height = 30;
        const byte transparent = 77;
        var pixels = RandomPixels(width * height, seed: 3);
        for (var i = 0; i < pixels.Length; i += 5) pixels[i] = transparent;
        var png = WithGrayTrns(ImageCodec.EncodePng(pixels, width, height, PixelFormat.Gray8), transparent);
        Assert.True(ImageCodec.ReadInfo(png).HasAlpha);

        Assert.Equal(pixels, ImageCodec.Decode(png, PixelFormat.Gray8).Pixels);
        var overWhite = ImageCodec.Decode(png, PixelFormat.Gray8, alpha: AlphaHandling.CompositeOverWhite).Pixels;
        var overBlack = ImageCodec.Decode(png, PixelFormat.Gray8, alpha: AlphaHandling.CompositeOverBlack).Pixels;
        for (var i = 0; i < pixels.Length; i++)
        {
            Assert.Equal(pixels[i] == transparent ? 255 : pixels[i], overWhite[i]);
            Assert.Equal(pixels[i] == transparent ? 0 : pixels[i], overBlack[i]);
        }
    }

    [Fact]
    public void Truncated_direct_path_png_is_still_rejected_as_truncated()
    {
        var png = ImageCodec.EncodePng(RandomPixels(64 * 64, seed: 9), 64, 64, PixelFormat.Gray8);
        foreach (var cut in new[] { png.Length - 3, png.Length - 12, png.Length / 2 })
        {
            var ex = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(png.AsSpan(0, cut), PixelFormat.Gray8));
            Assert.Equal(ImageDecodeReason.Truncated, ex.Reason);
        }
    }

    [Theory]
    [InlineData("gray8.png", "gray8")]
    [InlineData("rgb8.png", "rgb8")]
    [InlineData("palette8-trns.png", "palette8-trns.discard")]
    [InlineData("rgb24.bmp", "rgb24")]
    public void DecodeInto_a_rented_buffer_gives_the_same_pixels_as_Decode(string file, string expectedStem)
    {
        var expected = Expected(expectedStem);
        var data = Bytes(file);
        var info = ImageCodec.ReadInfo(data);
        var size = ImageCodec.DecodedSize(info, expected.Format);
        Assert.Equal(expected.Pixels.Length, size);

        // Rented buffers are larger than asked for and hold stale bytes: only the prefix is written.
        var buffer = ArrayPool<byte>.Shared.Rent(size + 100);
        try
        {
            buffer.AsSpan().Fill(0xAB);
            var written = ImageCodec.DecodeInto(data, info, expected.Format, buffer);
            Assert.Equal(size, written);
            Assert.Equal(expected.Pixels, buffer.AsSpan(0, size).ToArray());
            Assert.All(buffer.AsSpan(size, 100).ToArray(), b => Assert.Equal(0xAB, b));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [Fact]
    public void DecodeInto_refuses_a_short_buffer_and_a_header_from_another_image()
    {
        var data = Bytes("rgb8.png");
        var info = ImageCodec.ReadInfo(data);
        var size = ImageCodec.DecodedSize(info, PixelFormat.Rgb8);
        Assert.Throws<ArgumentException>(() => ImageCodec.DecodeInto(data, info, PixelFormat.Rgb8, new byte[size - 1]));

        var other = ImageCodec.ReadInfo(Bytes("rgb24.bmp"));
        var ex = Assert.Throws<ArgumentException>(() =>
            ImageCodec.DecodeInto(data, other, PixelFormat.Rgb8, new byte[ImageCodec.DecodedSize(other, PixelFormat.Rgb8) + size]));
        Assert.Contains("not", ex.Message);
    }

    [Fact]
    public void DecodedSize_enforces_the_limits_before_any_buffer_exists()
    {
        var bomb = ImageCodec.ReadInfo(Bytes("bomb-100000x100000.png"));
        var ex = Assert.Throws<ImageDecodeException>(() => ImageCodec.DecodedSize(bomb, PixelFormat.Gray8));
        Assert.Equal(ImageDecodeReason.TooLarge, ex.Reason);

        var info = ImageCodec.ReadInfo(Bytes("rgb8.png"));
        var tight = new DecodeLimits { MaxPixels = info.PixelCount - 1 };
        Assert.Equal(ImageDecodeReason.TooLarge, Assert.Throws<ImageDecodeException>(() => ImageCodec.DecodedSize(info, PixelFormat.Rgb8, tight)).Reason);
        Assert.Equal(info.PixelCount * 3, ImageCodec.DecodedSize(info, PixelFormat.Rgb8));
    }

    /// <summary>Inserts a gray tRNS chunk (the sample value that is fully transparent) after IHDR.</summary>
    private static byte[] WithGrayTrns(byte[] png, byte transparentValue)
    {
        var ihdr = FindChunk(png, "IHDR");
        var afterIhdr = ihdr + 12 + 13;
        byte[] chunk = [0, 0, 0, 2, (byte)'t', (byte)'R', (byte)'N', (byte)'S', 0, transparentValue, 0, 0, 0, 0];
        var result = new byte[png.Length + chunk.Length];
        png.AsSpan(0, afterIhdr).CopyTo(result);
        chunk.CopyTo(result.AsSpan(afterIhdr));
        png.AsSpan(afterIhdr).CopyTo(result.AsSpan(afterIhdr + chunk.Length));
        FixCrc(result, afterIhdr);
        return result;
    }
}
