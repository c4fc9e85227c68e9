using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Entrupy.Native.Imaging;
using static Entrupy.Native.Tests.Imaging.ImageFixtures;

namespace Entrupy.Native.Tests.Imaging;

/// <summary>
/// The 8-bit gray/RGB PNG path that inflates with libdeflate and unfilters rows itself. PNG is lossless, so every
/// decode must give back exactly the pixels the test wrote — whatever row filters, IDAT split and ancillary chunks the
/// file uses — and anything it does not decode itself must still come out (or be refused) the way spng does it.
/// </summary>
public class PngFastPathTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 2, 7)]
    [InlineData(1, 257, 33)]
    [InlineData(3, 1, 3)]
    [InlineData(3, 5, 9)]
    [InlineData(3, 130, 41)]
    public void Every_row_filter_gives_back_the_written_pixels(int channels, int width, int height)
    {
        var pixels = Pixels(width * height * channels, seed: width * 31 + height);
        var format = channels == 1 ? PixelFormat.Gray8 : PixelFormat.Rgb8;
        foreach (var filter in new[] { 0, 1, 2, 3, 4 })
        {
            var png = Png(pixels, width, height, channels, _ => filter);
            Assert.Equal(pixels, ImageCodec.Decode(png, format).Pixels);
        }
        // Mixed, as real encoders choose them row by row.
        var mixed = Png(pixels, width, height, channels, y => (y * 7 + 3) % 5);
        Assert.Equal(pixels, ImageCodec.Decode(mixed, format).Pixels);
    }

    [Fact]
    public void Data_split_over_many_idat_chunks_with_ancillary_chunks_around_them_decodes_the_same()
    {
        const int width = 96, height = 64;
        var pixels = Pixels(width * height * 3, seed: 5);
        var png = Png(pixels, width, height, 3, y => y % 5, idatPieceBytes: 1000,
            before: [Chunk("tEXt", Encoding.ASCII.GetBytes("Comment\0microscope")), Chunk("pHYs", new byte[9])],
            after: [Chunk("tIME", new byte[7])]);
        Assert.True(CountChunks(png, "IDAT") > 5);
        Assert.Equal(pixels, ImageCodec.Decode(png, PixelFormat.Rgb8).Pixels);
        // The other layout (through spng's RGBA rows) agrees.
        Assert.Equal(ToGray(pixels), ImageCodec.Decode(png, PixelFormat.Gray8).Pixels);
    }

    [Fact]
    public void Bytes_after_iend_are_ignored_as_before()
    {
        var pixels = Pixels(32 * 32, seed: 2);
        var png = Png(pixels, 32, 32, 1, y => y % 5);
        Assert.Equal(pixels, ImageCodec.Decode([.. png, 1, 2, 3, 4, 5], PixelFormat.Gray8).Pixels);
    }

    [Fact]
    public void An_unknown_filter_type_behind_valid_checksums_is_corrupt()
    {
        var pixels = Pixels(16 * 16, seed: 4);
        var png = Png(pixels, 16, 16, 1, y => y == 9 ? 5 : 4);
        var ex = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(png, PixelFormat.Gray8));
        Assert.Equal(ImageDecodeReason.Corrupt, ex.Reason);
    }

    [Fact]
    public void A_wrong_adler32_behind_valid_chunk_crcs_is_corrupt()
    {
        var pixels = Pixels(40 * 20 * 3, seed: 8);
        var png = Png(pixels, 40, 20, 3, y => y % 5);
        var idat = FindChunk(png, "IDAT");
        var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat));
        png[idat + 8 + length - 1] ^= 0x40; // last byte of the zlib stream: its Adler-32
        FixCrc(png, idat);
        var ex = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(png, PixelFormat.Rgb8));
        Assert.Equal(ImageDecodeReason.Corrupt, ex.Reason);
    }

    [Fact]
    public void Too_little_image_data_is_refused()
    {
        const int width = 24, height = 24;
        var pixels = Pixels(width * height, seed: 6);
        var full = Png(pixels, width, height, 1, _ => 1);
        // A file that declares 24 rows but compresses 23: complete chunks, valid CRCs and Adler-32.
        var shortPng = Png(pixels[..(width * (height - 1))], width, height - 1, 1, _ => 1);
        var ihdr = FindChunk(shortPng, "IHDR");
        BinaryPrimitives.WriteInt32BigEndian(shortPng.AsSpan(ihdr + 12), height);
        FixCrc(shortPng, ihdr);
        Assert.Equal(pixels, ImageCodec.Decode(full, PixelFormat.Gray8).Pixels);
        Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(shortPng, PixelFormat.Gray8));
    }

    /// <summary>Noise with smooth runs, so each predictor sees both.</summary>
    private static byte[] Pixels(int count, int seed)
    {
        var pixels = new byte[count];
        new Random(seed).NextBytes(pixels);
        for (var i = 0; i < count / 4; i++) pixels[i * 2] = (byte)(i / 5);
        return pixels;
    }

    private static byte[] ToGray(byte[] rgb)
    {
        var gray = new byte[rgb.Length / 3];
        for (var i = 0; i < gray.Length; i++)
            gray[i] = (byte)((19595 * rgb[3 * i] + 38470 * rgb[3 * i + 1] + 7471 * rgb[3 * i + 2] + 32768) >> 16);
        return gray;
    }

    /// <summary>An 8-bit gray or RGB PNG whose row y uses filter <paramref name="filterOf"/>(y) (5 is not a valid filter).</summary>
    private static byte[] Png(byte[] pixels, int width, int height, int channels, Func<int, int> filterOf, int idatPieceBytes = int.MaxValue,
        byte[][]? before = null, byte[][]? after = null)
    {
        var stride = width * channels;
        var raw = new byte[(stride + 1) * height];
        for (var y = 0; y < height; y++)
        {
            var filter = filterOf(y);
            raw[y * (stride + 1)] = (byte)filter;
            for (var i = 0; i < stride; i++)
            {
                int a = i >= channels ? pixels[y * stride + i - channels] : 0;
                int b = y > 0 ? pixels[(y - 1) * stride + i] : 0;
                int c = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels] : 0;
                var predicted = filter switch
                {
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => 0,
                };
                raw[y * (stride + 1) + 1 + i] = (byte)(pixels[y * stride + i] - predicted);
            }
        }
        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw);
        var data = compressed.ToArray();

        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = (byte)(channels == 1 ? 0 : 2);
        var file = new List<byte>([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        file.AddRange(Chunk("IHDR", ihdr));
        foreach (var chunk in before ?? []) file.AddRange(chunk);
        for (var at = 0; at < data.Length; at += Math.Min(idatPieceBytes, data.Length - at))
            file.AddRange(Chunk("IDAT", data.AsSpan(at, Math.Min(idatPieceBytes, data.Length - at)).ToArray()));
        foreach (var chunk in after ?? []) file.AddRange(chunk);
        file.AddRange(Chunk("IEND", []));
        return [.. file];
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static byte[] Chunk(string type, byte[] data)
    {
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    private static int CountChunks(byte[] png, string type)
    {
        var count = 0;
        for (var i = 8; i + 12 <= png.Length; i += 12 + BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(i)))
            if (Encoding.ASCII.GetString(png, i + 4, 4) == type) count++;
        return count;
    }
}
