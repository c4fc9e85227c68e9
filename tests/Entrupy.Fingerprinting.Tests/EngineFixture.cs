using System.Text.Json;
using Entrupy.Native.Onnx;

namespace Entrupy.Fingerprinting.Tests;

/// <summary>One model + engine for the whole test assembly (the ORT session is the expensive part).</summary>
public sealed class EngineFixture : IDisposable
{
    public EngineFixture()
    {
        Model = FingerprintModel.LoadDefault();
        Engine = new FingerprintEngine(Model, new OnnxSessionOptions { IntraOpThreads = 1 });
        Matcher = new FingerprintMatcher(Model);
        ParityDir = ParityDirectory;
        Expected = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(ParityDir, "expected.json"))).RootElement.Clone();
    }

    /// <summary>The committed fixtures, or a larger set made by make_port_fixtures.py named by FINGERPRINT_PARITY_DIR.</summary>
    public static string ParityDirectory =>
        Environment.GetEnvironmentVariable("FINGERPRINT_PARITY_DIR") is { Length: > 0 } dir
            ? dir
            : Path.Combine(AppContext.BaseDirectory, "TestData", "parity");

    public FingerprintModel Model { get; }
    public FingerprintEngine Engine { get; }
    public FingerprintMatcher Matcher { get; }
    public string ParityDir { get; }
    public JsonElement Expected { get; }

    private readonly Dictionary<string, Fingerprint> enrolled = new();

    public byte[] ImageBytes(string file) => File.ReadAllBytes(Path.Combine(ParityDir, file));

    /// <summary>Enrolment fingerprint of a parity fixture image (cached).</summary>
    public Fingerprint Enrolled(string file)
    {
        lock (enrolled)
        {
            if (!enrolled.TryGetValue(file, out var print))
                enrolled[file] = print = Engine.Extract(ImageBytes(file), FingerprintPurpose.Enrolment);
            return print;
        }
    }

    public void Dispose() => Engine.Dispose();
}

[CollectionDefinition(Name)]
public sealed class EngineCollection : ICollectionFixture<EngineFixture>
{
    public const string Name = "engine";
}
