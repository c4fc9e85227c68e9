using Entrupy.Fingerprinting;
using Entrupy.Fingerprinting.Evaluation;
using Entrupy.Native.Onnx;
using Entrupy.Registry.Api;

namespace Entrupy.Registry.Tests;

/// <summary>
/// Real fingerprints of the committed dev set (models/fingerprint/devset): one enrolment per gallery item, the probes
/// by item, extracted once for the whole assembly with the real model.
/// </summary>
public sealed class DevsetFixture
{
    public DevsetFixture()
    {
        Model = FingerprintModel.LoadDefault();
        Matcher = new FingerprintMatcher(Model);
        var data = EvaluationDataset.Load(DevsetDirectory);
        using var engine = new FingerprintEngine(Model, new OnnxSessionOptions { IntraOpThreads = 1 });
        foreach (var g in data.Gallery)
        {
            if (Enrolments.ContainsKey(g.ItemId)) continue;   // one capture per item is enough here
            Enrolments[g.ItemId] = engine.Extract(File.ReadAllBytes(g.ImagePath), FingerprintPurpose.Enrolment);
        }
        foreach (var p in data.Probes.Where(p => p.ItemId is not null))
        {
            if (!Probes.TryGetValue(p.ItemId!, out var list)) Probes[p.ItemId!] = list = [];
            list.Add(engine.Extract(File.ReadAllBytes(p.ImagePath), FingerprintPurpose.Probe));
        }
        ItemIds = [.. Enrolments.Keys.Order(StringComparer.Ordinal)];
    }

    public FingerprintModel Model { get; }
    public FingerprintMatcher Matcher { get; }
    public Dictionary<string, Fingerprint> Enrolments { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, List<Fingerprint>> Probes { get; } = new(StringComparer.Ordinal);
    public string[] ItemIds { get; }

    public static string DevsetDirectory
    {
        get
        {
            var copied = Path.Combine(AppContext.BaseDirectory, "devset");
            if (File.Exists(Path.Combine(copied, "gallery.csv"))) return copied;
            return Entrupy.TestSupport.RepositoryRoot.Combine("models", "fingerprint", "devset");
        }
    }

    /// <summary>The fingerprint as the registry holds it: serialized (8-bit descriptor codes) and read back.</summary>
    public Fingerprint AsStored(Fingerprint fingerprint) => Fingerprint.FromBytes(fingerprint.ToBytes(), Model);

    /// <summary>Probes of <paramref name="itemId"/> the 1:1 matcher itself accepts against its enrolment (ground truth for the registry).</summary>
    public IEnumerable<Fingerprint> GenuineProbes(string itemId) =>
        Probes.GetValueOrDefault(itemId, []).Where(p => Matcher.Compare(p, Enrolments[itemId]).IsMatch);

    /// <summary>The first devset item with a probe the matcher accepts, after skipping <paramref name="skip"/> such items.</summary>
    public string MatchableItem(int skip = 0) => ItemIds.Where(i => GenuineProbes(i).Any()).Skip(skip).First();

    public static ExtractedFingerprint Extracted(Fingerprint fingerprint, int index = 0) => new(
        fingerprint.ToBytes(),
        fingerprint.GlobalVectorArray(),
        new CaptureQuality
        {
            Index = index,
            Width = fingerprint.Quality.Width,
            Height = fingerprint.Quality.Height,
            Focus = fingerprint.Quality.Focus,
            Mean = fingerprint.Quality.Mean,
            Contrast = fingerprint.Quality.Contrast,
            Clipped = fingerprint.Quality.Clipped,
        });
}

[CollectionDefinition(Name)]
public sealed class DevsetCollection : ICollectionFixture<DevsetFixture>
{
    public const string Name = "devset";
}
