using Entrupy.Native.Imaging;
using static Entrupy.Native.Tests.Imaging.ImageFixtures;

namespace Entrupy.Native.Tests.Imaging;

public class ImageRejectionTests
{
    private static ImageDecodeException Rejects(ReadOnlySpan<byte> data, ImageDecodeReason reason,
        PixelFormat format = PixelFormat.Rgb8, DecodeLimits? limits = null)
    {
        ImageDecodeException? caught = null;
        try
        {
            ImageCodec.Decode(data, format, limits);
        }
        catch (ImageDecodeException ex)
        {
            caught = ex;
        }
        Assert.NotNull(caught);
        Assert.True(reason == caught.Reason, $"expected {reason}, got {caught.Reason}: {caught.Message}");
        Assert.False(string.IsNullOrWhiteSpace(caught.Message));
        return caught;
    }

    [Fact]
    public void ZeroBytesAreEmpty()
    {
        Rejects([], ImageDecodeReason.Empty);
        Assert.Equal(ImageDecodeReason.Empty, Assert.Throws<ImageDecodeException>(() => ImageCodec.ReadInfo([])).Reason);
    }

    [Fact]
    public void RandomBytesAndTextAreUnknown()
    {
        var random = new Random(7);
        for (int i = 0; i < 50; i++)
        {
            var noise = new byte[random.Next(1, 4096)];
            random.NextBytes(noise);
            if (noise[0] is 0xFF or 0x89 or (byte)'B') noise[0] = 0x00;  // keep clear of the three signatures
            var ex = Rejects(noise, ImageDecodeReason.UnknownFormat);
            Assert.Null(ex.Format);
        }
        Rejects("GIF89a and more"u8, ImageDecodeReason.UnknownFormat);
        Rejects("{\"not\": \"an image\"}"u8, ImageDecodeReason.UnknownFormat);
    }

    [Fact]
    public void RandomBytesBehindASignatureAreCorruptOrTruncated()
    {
        var random = new Random(11);
        byte[][] signatures = [[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], [0xFF, 0xD8, 0xFF], [(byte)'B', (byte)'M']];
        foreach (var signature in signatures)
        {
            for (int i = 0; i < 30; i++)
            {
                var data = new byte[random.Next(8, 2048)];
                random.NextBytes(data);
                signature.CopyTo(data, 0);
                var ex = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(data, PixelFormat.Gray8));
                Assert.Contains(ex.Reason, new[] { ImageDecodeReason.Corrupt, ImageDecodeReason.Truncated, ImageDecodeReason.Unsupported, ImageDecodeReason.TooLarge });
                Assert.NotNull(ex.Format);
            }
        }
    }

    [Theory]
    [InlineData("gray8.png")]
    [InlineData("rgb8-interlaced.png")]
    [InlineData("gray16.png")]
    [InlineData("palette8-trns.png")]
    [InlineData("gray-smooth.jpg")]
    [InlineData("rgb-smooth.jpg")]
    [InlineData("rgb24.bmp")]
    public void TruncatedFilesAreTruncatedAtEveryKindOfCut(string file)
    {
        var data = Bytes(file);
        // Inside the signature, inside the header, a quarter, half, three quarters in, and one byte short
        // (for JPEG: the EOI marker; for PNG: IEND's CRC) - libjpeg would grey-fill a cut scan, we refuse.
        int[] cuts = [2, 7, 20, data.Length / 4, data.Length / 2, data.Length * 3 / 4, data.Length - 2, data.Length - 1];
        foreach (int cut in cuts)
        {
            var ex = Rejects(data.AsSpan(0, cut), ImageDecodeReason.Truncated);
            Assert.NotNull(ex.Format);
        }
    }

    [Fact]
    public void EveryPrefixOfAPngAndAJpegIsRejectedAsTruncated()
    {
        foreach (var file in new[] { "rgba8.png", "gray-smooth.jpg" })
        {
            var data = Bytes(file);
            for (int cut = 1; cut < data.Length; cut++)
                Rejects(data.AsSpan(0, cut), ImageDecodeReason.Truncated, PixelFormat.Gray8);
        }
    }

    [Fact]
    public void PngDecompressionBombIsRejectedFromTheHeaderWithoutAllocating()
    {
        var bomb = Bytes("bomb-100000x100000.png");
        var info = ImageCodec.ReadInfo(bomb);
        Assert.Equal((100000, 100000), (info.Width, info.Height));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Rejects(bomb, ImageDecodeReason.TooLarge);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(ImageFormat.Png, ex.Format);
        Assert.Contains("100000", ex.Message);
        Assert.True(allocated < 256 * 1024, $"allocated {allocated} bytes while rejecting");
    }

    [Fact]
    public void JpegClaimingHugeDimensionsIsTooLarge()
    {
        var jpeg = Bytes("gray-smooth.jpg");
        int sof = IndexOfMarker(jpeg, 0xC0);
        // SOF0: FF C0, length(2), precision(1), height(2), width(2)
        jpeg[sof + 5] = 0xFD; jpeg[sof + 6] = 0xE8;  // 65000
        jpeg[sof + 7] = 0xFD; jpeg[sof + 8] = 0xE8;
        Assert.Equal(65000, ImageCodec.ReadInfo(jpeg).Width);

        long before = GC.GetAllocatedBytesForCurrentThread();
        Rejects(jpeg, ImageDecodeReason.TooLarge);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 256 * 1024);
    }

    [Fact]
    public void CallerLimitsApplyToEachSideThePixelCountAndTheInputSize()
    {
        var png = Bytes("rgb8.png");  // 33 x 17
        Rejects(png, ImageDecodeReason.TooLarge, limits: new DecodeLimits { MaxWidth = 32 });
        Rejects(png, ImageDecodeReason.TooLarge, limits: new DecodeLimits { MaxHeight = 16 });
        Rejects(png, ImageDecodeReason.TooLarge, limits: new DecodeLimits { MaxPixels = 33 * 17 - 1 });
        Rejects(png, ImageDecodeReason.TooLarge, limits: new DecodeLimits { MaxInputBytes = png.Length - 1 });

        var exact = new DecodeLimits { MaxWidth = 33, MaxHeight = 17, MaxPixels = 33 * 17, MaxInputBytes = png.Length };
        Assert.Equal(33, ImageCodec.Decode(png, PixelFormat.Gray8, exact).Width);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DecodeLimits { MaxPixels = 0 });
        Assert.Equal(16384, DecodeLimits.Default.MaxWidth);
        Assert.Equal(64L * 1024 * 1024, DecodeLimits.Default.MaxPixels);
    }

    [Fact]
    public unsafe void NativeDecodeRefusesABufferThatDoesNotMatchTheHeader()
    {
        // Second line of defence below the managed checks: the shim re-reads the header itself.
        var png = Bytes("rgb8.png");
        var small = new byte[10];
        fixed (byte* input = png)
        fixed (byte* output = small)
        {
            Assert.Equal(ImageNative.InvalidArgument,
                ImageNative.Decode(input, (nuint)png.Length, 1, 0, 2, 5, 16384, 16384, output, (nuint)small.Length));
            Assert.Equal((int)ImageDecodeReason.TooLarge,
                ImageNative.Decode(input, (nuint)png.Length, 1, 0, 10, 1, 4, 4, output, (nuint)small.Length));
        }
        Assert.Equal(0, small.Sum(b => b));
    }

    [Fact]
    public void BadChunkCrcIsCorrupt()
    {
        var png = Bytes("rgb8.png");
        int idat = FindChunk(png, "IDAT");
        int length = (png[idat] << 24) | (png[idat + 1] << 16) | (png[idat + 2] << 8) | png[idat + 3];
        png[idat + 8 + length] ^= 0x01;  // first CRC byte
        Rejects(png, ImageDecodeReason.Corrupt);

        var header = Bytes("gray8.png");
        header[29] ^= 0x40;  // IHDR CRC
        Rejects(header, ImageDecodeReason.Corrupt);
    }

    [Fact]
    public void DamagedCompressedDataBehindAValidCrcIsCorrupt()
    {
        var png = Bytes("rgb8.png");
        int idat = FindChunk(png, "IDAT");
        int length = (png[idat] << 24) | (png[idat + 1] << 16) | (png[idat + 2] << 8) | png[idat + 3];
        for (int i = idat + 8 + 2; i < idat + 8 + length; i += 7) png[i] ^= 0x5A;  // keep the zlib header, wreck the stream
        FixCrc(png, idat);
        Rejects(png, ImageDecodeReason.Corrupt);
    }

    [Fact]
    public void ImpossibleHeaderValuesAreCorrupt()
    {
        var png = Bytes("gray8.png");
        png[24] = 7;  // bit depth 7 does not exist
        FixCrc(png, 8);
        Rejects(png, ImageDecodeReason.Corrupt);

        var zeroWidth = Bytes("gray8.png");
        zeroWidth[16] = zeroWidth[17] = zeroWidth[18] = zeroWidth[19] = 0;
        FixCrc(zeroWidth, 8);
        Rejects(zeroWidth, ImageDecodeReason.Corrupt);

        var jpeg = Bytes("gray-smooth.jpg");
        int dqt = IndexOfMarker(jpeg, 0xDB);
        jpeg[dqt + 1] = 0xC9;  // DQT turned into an arithmetic-coding SOF before the real one, with garbage
        Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(jpeg, PixelFormat.Gray8));
    }

    [Fact]
    public void CorruptJpegScanIsRejectedNotGreyFilled()
    {
        var jpeg = Bytes("rgb-smooth.jpg");
        int sos = IndexOfMarker(jpeg, 0xDA);
        int scan = sos + 2 + ((jpeg[sos + 2] << 8) | jpeg[sos + 3]);
        // An unknown marker in the middle of the entropy-coded data: libjpeg warns and pads; we reject.
        jpeg[scan + 40] = 0xFF;
        jpeg[scan + 41] = 0xD5;  // RST5 out of sequence
        var ex = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(jpeg, PixelFormat.Rgb8));
        Assert.Equal(ImageDecodeReason.Corrupt, ex.Reason);
    }

    [Fact]
    public void CmykJpegAndRleBmpAreUnsupported()
    {
        Rejects(Bytes("cmyk.jpg"), ImageDecodeReason.Unsupported);
        var bmp = Bytes("rgb24.bmp");
        bmp[30] = 1;  // BI_RLE8
        Rejects(bmp, ImageDecodeReason.Unsupported);
    }

    [Fact]
    public void BmpClaimingMoreRowsThanItHoldsIsTruncated()
    {
        var bmp = Bytes("rgb24.bmp");
        BitConverter.GetBytes(-2_000_000_000).CopyTo(bmp, 22);  // top-down, two billion rows
        Rejects(bmp, ImageDecodeReason.Truncated);
    }

    private static int IndexOfMarker(byte[] jpeg, byte marker)
    {
        for (int i = 2; i + 1 < jpeg.Length; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] == marker) return i;
        throw new InvalidOperationException($"marker FF{marker:X2} not found");
    }
}
