using System.Text.Json;

namespace Entrupy.Native.Tests.Onnx;

/// <summary>Locates the committed test models and computes tiny.onnx's output independently of ONNX Runtime.</summary>
internal static class TinyModel
{
    internal const int Side = 16;
    internal const int Channels = 8;
    internal const int EmbeddingSize = 8;
    internal const int ImageElements = Side * Side;

    private static readonly Lazy<string> LazyRepoRoot = new(FindRepoRoot);
    private static readonly Lazy<Weights> LazyWeights = new(LoadWeights);

    internal static string RepoRoot => LazyRepoRoot.Value;
    internal static string TinyPath => Path.Combine(RepoRoot, "models", "tiny", "tiny.onnx");
    internal static string PairPath => Path.Combine(RepoRoot, "models", "tiny", "pair.onnx");
    internal static string WeightsPath => Path.Combine(RepoRoot, "models", "tiny", "tiny.weights.json");

    /// <summary>Deterministic pseudo-random images in [0, 1), row-major [batch,1,16,16].</summary>
    internal static float[] Images(int batch, int seed)
    {
        var random = new Random(seed);
        var data = new float[batch * ImageElements];
        for (var i = 0; i < data.Length; i++) data[i] = (float)random.NextDouble();
        return data;
    }

    /// <summary>
    /// Reference forward pass of tiny.onnx (Conv 3x3 pad 1 + bias, Relu, global average pool, MatMul + bias),
    /// accumulated in double. Returns (embedding [batch,8], pooled [batch,8]).
    /// </summary>
    internal static (float[] Embedding, float[] Pooled) Reference(ReadOnlySpan<float> images, int batch)
    {
        var w = LazyWeights.Value;
        var embedding = new float[batch * EmbeddingSize];
        var pooled = new float[batch * Channels];
        for (var n = 0; n < batch; n++)
        {
            var image = images.Slice(n * ImageElements, ImageElements);
            for (var c = 0; c < Channels; c++)
            {
                double sum = 0;
                for (var y = 0; y < Side; y++)
                for (var x = 0; x < Side; x++)
                {
                    double acc = w.ConvB[c];
                    for (var ky = 0; ky < 3; ky++)
                    for (var kx = 0; kx < 3; kx++)
                    {
                        int iy = y + ky - 1, ix = x + kx - 1;
                        if (iy < 0 || iy >= Side || ix < 0 || ix >= Side) continue;
                        acc += (double)w.ConvW[c, ky, kx] * image[iy * Side + ix];
                    }
                    sum += Math.Max(0, acc);
                }
                pooled[n * Channels + c] = (float)(sum / ImageElements);
            }
            for (var o = 0; o < EmbeddingSize; o++)
            {
                double acc = w.FcB[o];
                for (var c = 0; c < Channels; c++) acc += (double)pooled[n * Channels + c] * w.FcW[c, o];
                embedding[n * EmbeddingSize + o] = (float)acc;
            }
        }
        return (embedding, pooled);
    }

    internal static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var error = Math.Abs(expected[i] - actual[i]);
            Assert.True(error <= tolerance * Math.Max(1, Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]:R}, got {actual[i]:R} (error {error:E2})");
        }
    }

    private sealed record Weights(float[,,] ConvW, float[] ConvB, float[,] FcW, float[] FcB);

    private static Weights LoadWeights()
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(WeightsPath));
        var root = json.RootElement;
        var convW = new float[Channels, 3, 3];
        var c = 0;
        foreach (var filter in root.GetProperty("conv_w").EnumerateArray())
        {
            var inputChannel = filter.EnumerateArray().Single(); // one input channel
            var ky = 0;
            foreach (var row in inputChannel.EnumerateArray())
            {
                var kx = 0;
                foreach (var value in row.EnumerateArray()) convW[c, ky, kx++] = value.GetSingle();
                ky++;
            }
            c++;
        }
        Assert.Equal(Channels, c);
        var fcW = new float[Channels, EmbeddingSize];
        var i = 0;
        foreach (var row in root.GetProperty("fc_w").EnumerateArray())
        {
            var j = 0;
            foreach (var value in row.EnumerateArray()) fcW[i, j++] = value.GetSingle();
            i++;
        }
        return new Weights(
            convW,
            root.GetProperty("conv_b").EnumerateArray().Select(v => v.GetSingle()).ToArray(),
            fcW,
            root.GetProperty("fc_b").EnumerateArray().Select(v => v.GetSingle()).ToArray());
    }

    private static string FindRepoRoot() => Entrupy.TestSupport.RepositoryRoot.Path;

}
