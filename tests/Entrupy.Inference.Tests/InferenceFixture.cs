using Entrupy.Fingerprinting;
using Entrupy.Native.Imaging;
using Entrupy.Native.Onnx;
using Entrupy.TestSupport;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Entrupy.Inference.Tests;

/// <summary>
/// Two in-process clusters hosting the inference grains (one per batching strategy, so both paths are tested on
/// every run), a direct engine to compare with, and test captures.
/// </summary>
public sealed class InferenceFixture : IAsyncLifetime
{
    public InProcessTestCluster PerCall { get; private set; } = null!;
    public InProcessTestCluster Coalesced { get; private set; } = null!;
    public FingerprintModel Model { get; private set; } = null!;
    public FingerprintEngine Engine { get; private set; } = null!;

    /// <summary>Dev-set captures (256-1024 px, PNG and JPEG, colour and gray): real decoder and resize paths.</summary>
    public IReadOnlyList<byte[]> Captures { get; private set; } = [];

    /// <summary>The repository root (see tests/Shared/RepositoryRoot.cs).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot() => Entrupy.TestSupport.RepositoryRoot.Path;

    public static string TestData(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "TestData", .. parts]);

    public InProcessTestCluster Cluster(ExtractionBatching batching) => batching == ExtractionBatching.PerCall ? PerCall : Coalesced;

    public async Task InitializeAsync()
    {
        Model = FingerprintModel.LoadDefault();
        Engine = new FingerprintEngine(Model, new OnnxSessionOptions { IntraOpThreads = 1 });
        var folder = Path.Combine(RepoRoot, "models", "fingerprint", "devset", "images");
        Captures = Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal).Take(8).Select(File.ReadAllBytes).ToList();
        PerCall = await Deploy(new InferenceOptions { Batching = ExtractionBatching.PerCall });
        Coalesced = await Deploy(new InferenceOptions { Batching = ExtractionBatching.Coalesced });
    }

    /// <summary>One silo hosting the inference grains (stateless: no storage provider).</summary>
    public static Task<InProcessTestCluster> Deploy(InferenceOptions options) =>
        Builder(options).DeployAsync();

    public static InProcessTestClusterBuilder Builder(InferenceOptions options, Action<ISiloBuilder>? configure = null) =>
        EntrupyTestCluster.Builder(databasePath: null, silo =>
        {
            silo.AddInferenceGrains(options);
            configure?.Invoke(silo);
        });

    public async Task DisposeAsync()
    {
        if (PerCall is not null) await PerCall.DisposeAsync();
        if (Coalesced is not null) await Coalesced.DisposeAsync();
        Engine?.Dispose();
    }

    /// <summary>A gray PNG from a pixel function.</summary>
    public static byte[] GrayPng(int width, int height, Func<int, int, int> pixel)
    {
        var pixels = new byte[width * height];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                pixels[y * width + x] = (byte)Math.Clamp(pixel(x, y), 0, 255);
        return ImageCodec.EncodePng(pixels, width, height, PixelFormat.Gray8);
    }
}

[CollectionDefinition(Name)]
public sealed class InferenceCollection : ICollectionFixture<InferenceFixture>
{
    public const string Name = "inference";
}
