using Entrupy.Native.Imaging;
using Entrupy.Native.Onnx;

namespace Entrupy.Fingerprinting.Tests;

/// <summary>
/// The fast paths of the engine against plain reimplementations of the spec (section 6.1 and 6.3), value for value, and
/// the parallel batched extraction against single extractions.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class PipelineInternalsTests(EngineFixture fx)
{
    [Theory]
    [InlineData(256, 256, 1)]   // crop already at model size: no resampling
    [InlineData(300, 410, 1)]   // area averaging, non-integer ratio, taller than wide
    [InlineData(511, 384, 3)]   // colour, wider than tall
    [InlineData(512, 512, 1)]   // integer ratio 2
    [InlineData(257, 257, 3)]   // ratio just above 1
    [InlineData(200, 180, 1)]   // bilinear upsampling
    [InlineData(130, 255, 3)]   // upsampling, colour, odd crop offset
    public void Normalised_pixels_equal_the_dense_matrix_reference_exactly(int width, int height, int channels)
    {
        var pixels = new byte[width * height * channels];
        new Random(width * 31 + height).NextBytes(pixels);
        var actual = new float[256 * 256 + 7];
        actual.AsSpan().Fill(float.NaN);

        CaptureNormaliser.Normalise(pixels, width, height, channels, 256, actual);

        var expected = DenseReference(pixels, width, height, channels, 256);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == actual[i], $"pixel {i}: expected {expected[i]:R}, got {actual[i]:R}");
        Assert.All(actual[(256 * 256)..], v => Assert.True(float.IsNaN(v)));
    }

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(2, 0.3)]
    [InlineData(3, 1.0)]
    public void Keypoints_equal_the_brute_force_window_comparison(int seed, double plateauFraction)
    {
        var cfg = fx.Model.Config;
        var n = cfg.MapSize;
        var random = new Random(seed);
        // Quantised values make exact ties and plateaus common (the reference keeps every plateau point as a peak).
        var response = new float[n * n];
        for (var i = 0; i < response.Length; i++)
            response[i] = random.NextDouble() < plateauFraction ? 0.5f : MathF.Round((float)random.NextDouble() * 40) / 40;
        var scratch = new KeypointScratch(cfg);

        var (ys, xs) = RecordBuilder.Keypoints(response, cfg, scratch);
        var (expectedY, expectedX) = BruteForceKeypoints(response, cfg);

        Assert.Equal(expectedY, ys);
        Assert.Equal(expectedX, xs);
        Assert.True(ys.Length > cfg.MaxKeypoints / 2, $"only {ys.Length} keypoints");
        // Scratch is reused between captures: a second map must not see the first one's peaks.
        var (ys2, xs2) = RecordBuilder.Keypoints(new float[n * n], cfg, scratch);
        var (ey2, ex2) = BruteForceKeypoints(new float[n * n], cfg);
        Assert.Equal(ey2, ys2);
        Assert.Equal(ex2, xs2);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 2)]
    [InlineData(32, 2)]
    public void Batches_split_into_parallel_model_runs_equal_single_extractions(int runSize, int parallelism)
    {
        using var engine = new FingerprintEngine(fx.Model, new OnnxSessionOptions { IntraOpThreads = 1 }) { RunSize = runSize, MaxParallelism = parallelism };
        var good = new[] { "p0.jpg", "g2.png", "p4.jpg", "g5.png", "p1.png", "g3.jpg", "p5.png" };
        var uniform = ImageCodec.EncodePng(Enumerable.Repeat((byte)128, 256 * 256).ToArray(), 256, 256, PixelFormat.Gray8);
        var tiny = ImageCodec.EncodePng(new byte[64 * 64], 64, 64, PixelFormat.Gray8);
        // Rejections inside a run, at its start and at its end.
        var inputs = new List<(string Name, byte[] Bytes)>
        {
            ("garbage", "not an image"u8.ToArray()), (good[0], fx.ImageBytes(good[0])), (good[1], fx.ImageBytes(good[1])),
            ("uniform", uniform), (good[2], fx.ImageBytes(good[2])), ("tiny", tiny), (good[3], fx.ImageBytes(good[3])),
            (good[4], fx.ImageBytes(good[4])), (good[5], fx.ImageBytes(good[5])), (good[6], fx.ImageBytes(good[6])), ("garbage2", [0xFF, 0xD8, 0xFF]),
        };

        foreach (var purpose in new[] { FingerprintPurpose.Probe, FingerprintPurpose.Enrolment })
        {
            var results = engine.ExtractBatch(inputs.Select(i => (ReadOnlyMemory<byte>)i.Bytes).ToList(), purpose);
            Assert.Equal(inputs.Count, results.Count);
            for (var i = 0; i < inputs.Count; i++)
            {
                var (name, bytes) = inputs[i];
                switch (name)
                {
                    case "garbage": Assert.Equal(CaptureRejection.NotAnImage, results[i].Rejection); break;
                    case "garbage2": Assert.Equal(CaptureRejection.Corrupt, results[i].Rejection); break;
                    case "uniform": Assert.Equal(CaptureRejection.LowContrast, results[i].Rejection); break;
                    case "tiny": Assert.Equal(CaptureRejection.TooSmall, results[i].Rejection); break;
                    default:
                        Assert.True(results[i].Succeeded, $"{name}: {results[i].Message}");
                        Assert.Equal(fx.Engine.Extract(bytes, purpose).ToBytes(), results[i].Fingerprint!.ToBytes());
                        break;
                }
                if (!results[i].Succeeded) Assert.False(string.IsNullOrWhiteSpace(results[i].Message));
            }
        }
    }

    [Fact]
    public void Model_run_failure_surfaces_as_itself_not_wrapped()
    {
        var engine = new FingerprintEngine(fx.Model, new OnnxSessionOptions { IntraOpThreads = 1 }) { RunSize = 1, MaxParallelism = 2 };
        engine.Dispose();
        var images = Enumerable.Range(0, 4).Select(_ => (ReadOnlyMemory<byte>)fx.ImageBytes("p0.jpg")).ToList();
        Assert.Throws<ObjectDisposedException>(() => engine.ExtractBatch(images, FingerprintPurpose.Probe));
    }

    [Fact]
    public void Stage_clock_charges_every_stage_and_counts_captures()
    {
        using var engine = new FingerprintEngine(fx.Model, new OnnxSessionOptions { IntraOpThreads = 1 });
        var clock = new EngineStageClock();
        engine.Clock = clock;
        var images = new[] { "p0.jpg", "g2.png", "p4.jpg" }.Select(f => (ReadOnlyMemory<byte>)fx.ImageBytes(f)).ToList();
        engine.ExtractBatch(images, FingerprintPurpose.Enrolment);
        engine.Extract(fx.ImageBytes("p1.png"), FingerprintPurpose.Probe);

        Assert.Equal(4, clock.Captures);
        foreach (var stage in Enum.GetValues<EngineStage>())
            Assert.True(clock.Milliseconds(stage) > 0, $"{stage} was not timed");
        clock.Reset();
        Assert.Equal(0, clock.Captures);
        Assert.Equal(0, clock.Milliseconds(EngineStage.Model));
    }

    /// <summary>fpcore.normalise written out plainly: gray per pixel, dense matrices, m·g then (m·g)·mᵀ, sums in index order.</summary>
    private static float[] DenseReference(byte[] pixels, int width, int height, int channels, int size)
    {
        var s = Math.Min(width, height);
        int y0 = (height - s) / 2, x0 = (width - s) / 2;
        var g = new double[s, s];
        for (var y = 0; y < s; y++)
            for (var x = 0; x < s; x++)
            {
                var p = ((y0 + y) * width + x0 + x) * channels;
                g[y, x] = channels == 1
                    ? pixels[p] / 255f
                    : pixels[p] / 255f * 0.299f + pixels[p + 1] / 255f * 0.587f + pixels[p + 2] / 255f * 0.114f;
            }
        var m = new double[size, s];
        var scale = (double)s / size;
        for (var o = 0; o < size; o++)
        {
            if (s >= size)
            {
                double a = o * scale, b = (o + 1) * scale;
                for (var i = (int)Math.Floor(a); i < Math.Min((int)Math.Ceiling(b), s); i++)
                {
                    var w = Math.Min(b, i + 1) - Math.Max(a, i);
                    if (w > 0) m[o, i] = w / scale;
                }
            }
            else
            {
                var x = (o + 0.5) * scale - 0.5;
                var xf = (int)Math.Floor(x);
                var f = x - xf;
                m[o, Math.Clamp(xf, 0, s - 1)] += 1 - f;
                m[o, Math.Clamp(xf + 1, 0, s - 1)] += f;
            }
        }
        var tmp = new double[size, s];
        for (var o = 0; o < size; o++)
            for (var x = 0; x < s; x++)
            {
                double acc = 0;
                for (var i = 0; i < s; i++) acc += m[o, i] * g[i, x];
                tmp[o, x] = acc;
            }
        var result = new float[size * size];
        for (var o = 0; o < size; o++)
            for (var p = 0; p < size; p++)
            {
                double acc = 0;
                for (var j = 0; j < s; j++) acc += tmp[o, j] * m[p, j];
                result[o * size + p] = (float)acc;
            }
        return result;
    }

    /// <summary>Spec 6.3 literally: every interior point compared with its whole window, buckets sorted by strength, y, x.</summary>
    private static (byte[] Y, byte[] X) BruteForceKeypoints(float[] response, FingerprintConfig cfg)
    {
        int n = cfg.MapSize, r = cfg.NmsRadius, nb = cfg.Buckets;
        var border = cfg.DescriptorGrid / 2 * cfg.DescriptorSpacing + 2;
        var buckets = Enumerable.Range(0, nb * nb).Select(_ => new List<(float V, int Y, int X)>()).ToArray();
        for (var y = border; y < n - border; y++)
            for (var x = border; x < n - border; x++)
            {
                var v = response[y * n + x];
                var peak = true;
                for (var dy = -r; dy <= r; dy++)
                    for (var dx = -r; dx <= r; dx++)
                        if (response[(y + dy) * n + x + dx] > v) peak = false;
                if (peak) buckets[y * nb / n * nb + x * nb / n].Add((v, y, x));
            }
        var chosen = buckets.SelectMany(b => b.OrderByDescending(c => c.V).ThenBy(c => c.Y).ThenBy(c => c.X).Take(cfg.MaxKeypoints / (nb * nb))).ToList();
        return (chosen.Select(c => (byte)c.Y).ToArray(), chosen.Select(c => (byte)c.X).ToArray());
    }
}
