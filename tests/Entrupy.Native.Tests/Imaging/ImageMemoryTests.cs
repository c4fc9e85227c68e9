using System.Diagnostics;
using System.Runtime.InteropServices;
using Entrupy.Native.Imaging;
using static Entrupy.Native.Tests.Imaging.ImageFixtures;

namespace Entrupy.Native.Tests.Imaging;

/// <summary>Runs alone: the malloc counters are process-wide, so concurrent tests would blur them.</summary>
[CollectionDefinition(nameof(ImageMemoryCollection), DisableParallelization = true)]
public sealed class ImageMemoryCollection;

[Collection(nameof(ImageMemoryCollection))]
public class ImageMemoryTests
{
    [Fact]
    public void ManyDecodesEncodesAndFailuresKeepMemoryFlat()
    {
        // A leaked output buffer, encoded buffer, spng/zlib context or TurboJPEG handle per call would add
        // well over the allowance across the measured rounds.
        const int side = 128, warmUpRounds = 40, windows = 7, windowRounds = 36;
        var pixels = new byte[side * side * 3];
        for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
        {
            int i = 3 * (y * side + x);
            (pixels[i], pixels[i + 1], pixels[i + 2]) = ((byte)(x + y), (byte)(x * 2), (byte)(255 - y));
        }
        var jpeg = ImageCodec.EncodeJpeg(pixels, side, side, PixelFormat.Rgb8, 90, JpegSubsampling.Chroma420);
        var png = ImageCodec.EncodePng(pixels, side, side, PixelFormat.Rgb8, 1);
        var truncated = jpeg[..(jpeg.Length / 2)];
        var interlaced = Bytes("rgb8-interlaced.png");
        var bmp = Bytes("rgb24.bmp");

        void Round()
        {
            Assert.Equal(side, ImageCodec.Decode(jpeg, PixelFormat.Rgb8).Width);
            Assert.Equal(side, ImageCodec.Decode(png, PixelFormat.Gray8).Height);
            Assert.Equal(33, ImageCodec.Decode(interlaced, PixelFormat.Rgb8, alpha: AlphaHandling.CompositeOverWhite).Width);
            Assert.Equal(13, ImageCodec.Decode(bmp, PixelFormat.Gray8).Width);
            Assert.NotEmpty(ImageCodec.EncodeJpeg(pixels, side, side, PixelFormat.Rgb8, 80));
            Assert.NotEmpty(ImageCodec.EncodePng(pixels.AsSpan(0, side * side), side, side, PixelFormat.Gray8, 1));
            Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(truncated, PixelFormat.Rgb8));
        }

        for (int i = 0; i < warmUpRounds; i++) Round();  // allocator pools, JIT, thread-local error strings
        // Several equal windows: a leak grows every one of them, while the host's own one-off events (it
        // frees or allocates a few MB now and then) move only one or two, so the median is what counts.
        var nativeGrowth = new long[windows];
        var managedGrowth = new long[windows];
        var clock = Stopwatch.StartNew();
        var previous = Settle();
        for (int w = 0; w < windows; w++)
        {
            for (int i = 0; i < windowRounds; i++) Round();
            var now = Settle();
            (nativeGrowth[w], managedGrowth[w]) = (now.Native - previous.Native, now.Managed - previous.Managed);
            previous = now;
        }
        clock.Stop();

        string report = $"growth per {windowRounds} rounds: native [{string.Join(", ", nativeGrowth.Select(g => g / 1024))}] KiB, " +
                        $"managed [{string.Join(", ", managedGrowth.Select(g => g / 1024))}] KiB " +
                        $"({clock.Elapsed.TotalMilliseconds / (windows * windowRounds):F2} ms per round)";
        const long allowance = windowRounds * 2 * 1024;  // 2 KiB per round; a quiet run shows well under 1
        Assert.True(Median(nativeGrowth) < allowance, report);
        Assert.True(Median(managedGrowth) < allowance, report);
    }

    private static long Median(long[] values) => values.Order().ElementAt(values.Length / 2);

    private static (long Native, long Managed) Settle()
    {
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        var info = MallInfo2();
        // Bytes malloc has handed out and not had back: small blocks plus mmapped large ones.
        return ((long)(info.InUseBytes + info.MappedBytes), managed);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo
    {
        public nuint Arena, FreeChunks, FastBins, MappedRegions;
        public nuint MappedBytes;
        public nuint MaxAllocated, FastBinBytes;
        public nuint InUseBytes;
        public nuint FreeBytes, Releasable;
    }

    [DllImport("libc.so.6", EntryPoint = "mallinfo2")]
    private static extern MallInfo MallInfo2();
}
