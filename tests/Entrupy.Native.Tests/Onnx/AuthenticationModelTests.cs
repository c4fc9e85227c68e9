using System.Security.Cryptography;
using System.Text.Json;
using Entrupy.Native.Imaging;
using Entrupy.Native.Onnx;

namespace Entrupy.Native.Tests.Onnx;

/// <summary>
/// The authentication models in models/authentication: registry integrity, and that the committed sample captures
/// get, through our ORT binding, the probabilities and verdicts the Python numpy twin computed at build time.
/// </summary>
[Collection(nameof(OnnxIsolatedCollection))]
public sealed class AuthenticationModelTests
{
    private const int Side = 256;

    private static string ModelDir => Path.Combine(TinyModel.RepoRoot, "models", "authentication");

    [Fact]
    public void RegistryListsAtLeastTwoModelsWhoseFilesMatchTheirSha256AndThresholdsAreOrdered()
    {
        var models = Registry();
        Assert.True(models.Count >= 2, $"expected >= 2 brand+material models, found {models.Count}");
        Assert.Equal(models.Count, models.Select(m => m.Id).Distinct().Count());
        foreach (var model in models)
        {
            var actual = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(ModelDir, model.File))));
            Assert.Equal(model.Sha256, actual);
            Assert.InRange(model.NotAuthenticMax, 0.0, 1.0);
            Assert.InRange(model.AuthenticMin, model.NotAuthenticMax, 1.0);
        }
    }

    [Fact]
    public void EveryModelLoadsWithImageInputAndTwoClassProbabilityOutput()
    {
        foreach (var model in Registry())
        {
            using var session = OnnxSession.FromFile(Path.Combine(ModelDir, model.File));
            var input = Assert.Single(session.Inputs);
            Assert.Equal("image", input.Name);
            Assert.Equal(new long[] { -1, 1, Side, Side }, input.Shape.ToArray());
            var output = Assert.Single(session.Outputs);
            Assert.Equal("probabilities", output.Name);
            Assert.Equal(2L, output.Shape[1]);
        }
    }

    [Fact]
    public void SampleCapturesGetTheVerdictsTheNumpyTwinComputed()
    {
        var models = Registry().ToDictionary(m => m.Id);
        using var expected = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(ModelDir, "samples", "expected.json")));
        var samples = expected.RootElement.GetProperty("samples").EnumerateArray().ToList();
        Assert.True(samples.Count >= 4, $"expected >= 4 samples, found {samples.Count}");
        var verdictsSeen = new HashSet<string>();
        foreach (var group in samples.GroupBy(s => s.GetProperty("model_id").GetString()!))
        {
            var model = models[group.Key];
            using var session = OnnxSession.FromFile(Path.Combine(ModelDir, model.File));
            var list = group.ToList();
            var batch = new float[list.Count * Side * Side];
            for (var i = 0; i < list.Count; i++)
                LoadCapture(list[i].GetProperty("file").GetString()!).CopyTo(batch.AsSpan(i * Side * Side));

            var probabilities = session.Run("image", batch, [list.Count, 1, Side, Side], out var shape);

            Assert.Equal(new long[] { list.Count, 2 }, shape);
            for (var i = 0; i < list.Count; i++)
            {
                var pAuthentic = probabilities[2 * i + 1];
                Assert.Equal(1.0, probabilities[2 * i] + pAuthentic, 1e-5);
                Assert.Equal(list[i].GetProperty("p_authentic").GetDouble(), pAuthentic, 1e-4);
                var verdict = pAuthentic >= model.AuthenticMin ? "authentic"
                    : pAuthentic <= model.NotAuthenticMax ? "not_authentic" : "inconclusive";
                Assert.Equal(list[i].GetProperty("expected_verdict").GetString(), verdict);
                verdictsSeen.Add(verdict);
            }
        }

        // The samples must exercise both decisions, otherwise a constant model would pass.
        Assert.Contains("authentic", verdictsSeen);
        Assert.Contains("not_authentic", verdictsSeen);
    }

    /// <summary>A 256x256 gray PNG as the model's input: pixel / 255 (already the normalised size, no resize).</summary>
    private static float[] LoadCapture(string file)
    {
        var image = ImageCodec.Decode(File.ReadAllBytes(Path.Combine(ModelDir, "samples", file)), PixelFormat.Gray8);
        Assert.Equal(Side, image.Width);
        Assert.Equal(Side, image.Height);
        return image.Pixels.Select(p => p / 255f).ToArray();
    }

    private static List<RegistryEntry> Registry()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(ModelDir, "registry.json")));
        return doc.RootElement.GetProperty("models").EnumerateArray().Select(m => new RegistryEntry(
            m.GetProperty("id").GetString()!, m.GetProperty("model_file").GetString()!, m.GetProperty("sha256").GetString()!,
            m.GetProperty("thresholds").GetProperty("authentic_min").GetDouble(),
            m.GetProperty("thresholds").GetProperty("not_authentic_max").GetDouble())).ToList();
    }

    private sealed record RegistryEntry(string Id, string File, string Sha256, double AuthenticMin, double NotAuthenticMax);
}
