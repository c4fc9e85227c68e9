using Entrupy.Native.Faiss;
using Entrupy.Native.Imaging;
using Entrupy.Native.Onnx;

namespace Entrupy.Silo.Health;

/// <summary>What one native engine reported when the silo loaded it.</summary>
/// <param name="Name">Engine name.</param>
/// <param name="Loaded">Whether it loaded and answered a trivial call.</param>
/// <param name="Version">Its version string, when loaded.</param>
/// <param name="Error">Why it failed, when not loaded.</param>
public sealed record EngineStatus(string Name, bool Loaded, string? Version, string? Error);

/// <summary>Loads each native engine once at start-up and exercises it, so /health tells the truth.</summary>
public static class EngineProbe
{
    /// <summary>Probes FAISS, ONNX Runtime and the image decoders; never throws.</summary>
    public static IReadOnlyList<EngineStatus> ProbeAll() =>
    [
        Probe("faiss", () =>
        {
            // A real round trip, not just a symbol lookup: an index is created, filled and searched.
            using var index = FaissIndex.Create(4, "Flat", FaissMetric.L2);
            index.Add([1f, 0f, 0f, 0f], [42L]);
            var hit = index.Search([1f, 0f, 0f, 0f], 1);
            if (hit.Ids[0] != 42) throw new InvalidOperationException("FAISS self-test returned the wrong id");
            return FaissLibrary.Version;
        }),
        Probe("onnxruntime", () => OnnxRuntime.Version),
        Probe("image_decoders", () => ImageCodec.Versions),
    ];

    private static EngineStatus Probe(string name, Func<string> load)
    {
        try
        {
            return new EngineStatus(name, true, load(), null);
        }
        catch (Exception e)
        {
            return new EngineStatus(name, false, null, $"{e.GetType().Name}: {e.Message}");
        }
    }
}
