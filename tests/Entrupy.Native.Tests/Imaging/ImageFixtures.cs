using System.Runtime.CompilerServices;
using Entrupy.Native.Imaging;

namespace Entrupy.Native.Tests.Imaging;

/// <summary>
/// Loads TestData/images (written by make_fixtures.py with encoders independent of the code under test).
/// Looks next to the test binaries first, then in the source tree, so no csproj copy rule is needed.
/// </summary>
internal static class ImageFixtures
{
    private static readonly Lazy<string> Dir = new(FindDirectory);

    public static byte[] Bytes(string fileName) => File.ReadAllBytes(Path.Combine(Dir.Value, fileName));

    /// <summary>Expected pixels: the single "stem.WxH.kind.raw" file next to the fixture.</summary>
    public static DecodedImage Expected(string stem)
    {
        var matches = Directory.GetFiles(Dir.Value, stem + ".*.raw")
            .Where(f => Path.GetFileName(f).Split('.').Length == stem.Split('.').Length + 3)
            .ToArray();
        Assert.True(matches.Length == 1, $"expected exactly one raw file for {stem}, found {matches.Length}");
        var parts = Path.GetFileName(matches[0]).Split('.');
        var size = parts[^3].Split('x');
        var format = parts[^2] == "gray" ? PixelFormat.Gray8 : PixelFormat.Rgb8;
        return new DecodedImage(int.Parse(size[0]), int.Parse(size[1]), format, File.ReadAllBytes(matches[0]));
    }

    /// <summary>The fixtures that decode successfully, for fuzzing and memory tests.</summary>
    public static readonly string[] Decodable =
    [
        "gray8.png", "rgb8.png", "rgba8.png", "graya8.png", "gray16.png", "rgb16.png", "gray1.png",
        "palette4.png", "palette8-trns.png", "rgb8-interlaced.png", "gray16-interlaced.png", "rgb8-chunks.png",
        "gray-smooth.jpg", "rgb-smooth.jpg", "rgb24.bmp",
    ];

    /// <summary>BT.601 luma with the same rounding the codec documents.</summary>
    public static byte Luma(byte r, byte g, byte b) => (byte)((19595 * r + 38470 * g + 7471 * b + 32768) >> 16);

    public static byte[] ToGray(DecodedImage rgb)
    {
        var gray = new byte[rgb.Width * rgb.Height];
        for (int i = 0; i < gray.Length; i++)
            gray[i] = Luma(rgb.Pixels[3 * i], rgb.Pixels[3 * i + 1], rgb.Pixels[3 * i + 2]);
        return gray;
    }

    /// <summary>Largest and mean absolute difference between two equally sized pixel arrays.</summary>
    public static (int Max, double Mean) Difference(byte[] actual, byte[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        long sum = 0;
        int max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            int d = Math.Abs(actual[i] - expected[i]);
            sum += d;
            max = Math.Max(max, d);
        }
        return (max, (double)sum / actual.Length);
    }

    /// <summary>PNG chunk CRC (ISO 3309 / zlib crc32), so tests can corrupt data behind a valid checksum.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320 & (0u - (crc & 1)));
        }
        return ~crc;
    }

    /// <summary>Offset of the first chunk of the given type (its length field), or -1.</summary>
    public static int FindChunk(byte[] png, string type)
    {
        int i = 8;
        while (i + 12 <= png.Length)
        {
            int length = (png[i] << 24) | (png[i + 1] << 16) | (png[i + 2] << 8) | png[i + 3];
            if (System.Text.Encoding.ASCII.GetString(png, i + 4, 4) == type) return i;
            i += 12 + length;
        }
        return -1;
    }

    /// <summary>Recomputes the CRC of the chunk starting at <paramref name="offset"/>.</summary>
    public static void FixCrc(byte[] png, int offset)
    {
        int length = (png[offset] << 24) | (png[offset + 1] << 16) | (png[offset + 2] << 8) | png[offset + 3];
        uint crc = Crc32(png.AsSpan(offset + 4, length + 4));
        int at = offset + 8 + length;
        png[at] = (byte)(crc >> 24);
        png[at + 1] = (byte)(crc >> 16);
        png[at + 2] = (byte)(crc >> 8);
        png[at + 3] = (byte)crc;
    }

    private static string FindDirectory()
    {
        var besideBinaries = Path.Combine(AppContext.BaseDirectory, "TestData", "images");
        if (Directory.Exists(besideBinaries)) return besideBinaries;
        var inSource = Path.GetFullPath(Path.Combine(SourceDirectory(), "..", "TestData", "images"));
        if (Directory.Exists(inSource)) return inSource;
        throw new DirectoryNotFoundException($"TestData/images not found beside {AppContext.BaseDirectory} or at {inSource}");
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
