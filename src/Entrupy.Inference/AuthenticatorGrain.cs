using Entrupy.Fingerprinting;
using Orleans;
using Orleans.Concurrency;
using Entrupy.Native.Onnx;
using Entrupy.Registry;
using Entrupy.Registry.Inference;

namespace Entrupy.Inference;

/// <summary>
/// Runs the authentication models of <c>models/authentication/registry.json</c>. A stateless worker: each activation
/// loads one single-threaded ONNX Runtime session per model on first use. Captures are normalised like the
/// fingerprint model's input and pass the same quality gate (the models have none of their own: a blurred capture
/// would give a meaningless probability); the verdict uses the mean P(authentic) of the usable captures.
/// </summary>
[StatelessWorker]
[GrainType("authenticator")]
internal sealed class AuthenticatorGrain(AuthenticationModelRegistry registry, FingerprintModel fingerprintModel) : Grain, IAuthenticatorGrain
{
    /// <summary>Name of the combined score: mean P(authentic) over the usable captures.</summary>
    internal const string MeanScore = "p_authentic";

    /// <summary>Prefix of the per-capture scores, followed by the capture's index.</summary>
    internal const string CaptureScorePrefix = "p_authentic_";

    /// <summary>Name of the score holding how many captures were used.</summary>
    internal const string CapturesUsedScore = "captures_used";

    // Captures normalised and sent to the model together, so a long request never holds more than this many inputs.
    private const int ChunkSize = 16;

    private readonly Dictionary<string, OnnxSession> sessions = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public Task<AuthenticationModelInfo[]> ListModels() => Task.FromResult(registry.Models.Select(m => m.Info).ToArray());

    /// <inheritdoc />
    public Task<AuthenticationVerdict> Authenticate(string model, byte[][] images)
    {
        if (string.IsNullOrWhiteSpace(model)) throw new RegistryValidationException("model", model, "an authentication model id is required");
        var entry = registry.Find(model) ?? throw new RegistryNotFoundException(
            $"No authentication model '{model}'. Known models: {string.Join(", ", registry.Models.Select(m => m.Id))}.");
        if (images is null || images.Length == 0)
            throw new RegistryValidationException("images", null, "at least one capture is required");

        var session = Session(entry);
        var scores = new Dictionary<string, double>();
        var rejected = new Dictionary<int, string>();
        double sum = 0;
        var used = 0;
        for (var start = 0; start < images.Length; start += ChunkSize)
        {
            var indices = new List<int>();
            var pixels = new List<float[]>();
            for (var i = start; i < Math.Min(start + ChunkSize, images.Length); i++)
            {
                try
                {
                    pixels.Add(CaptureNormalisation.Prepare(images[i] ?? [], fingerprintModel.QualityGate, entry.InputSize).Pixels);
                    indices.Add(i);
                }
                catch (CaptureRejectedException ex)
                {
                    rejected[i] = $"{ExtractionMapping.Code(ex.Reason)}: {ex.Message}";
                }
            }
            if (pixels.Count == 0) continue;
            var probabilities = Run(session, entry, pixels);
            for (var k = 0; k < indices.Count; k++)
            {
                var p = probabilities[k];
                scores[CaptureScorePrefix + indices[k].ToString(System.Globalization.CultureInfo.InvariantCulture)] = p;
                sum += p;
                used++;
            }
        }
        if (used == 0)
        {
            throw new RegistryValidationException("images", null,
                "no capture could be used (" + string.Join("; ", rejected.Select(r => $"{r.Key}: {r.Value}")) + ")");
        }

        var mean = sum / used;
        scores[MeanScore] = mean;
        scores[CapturesUsedScore] = used;
        return Task.FromResult(new AuthenticationVerdict
        {
            Status = Decide(mean, entry),
            Scores = scores,
            ModelId = entry.Id,
            ModelVersion = entry.Info.Version,
            RejectedCaptures = rejected,
        });
    }

    /// <inheritdoc />
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        foreach (var session in sessions.Values) session.Dispose();
        sessions.Clear();
        return Task.CompletedTask;
    }

    /// <summary>The registry's rule: authentic at or above authentic_min, not authentic at or below not_authentic_max, else review.</summary>
    internal static AuthenticationStatus Decide(double pAuthentic, AuthenticationModel model) =>
        pAuthentic >= model.AuthenticMin ? AuthenticationStatus.Authentic
        : pAuthentic <= model.NotAuthenticMax ? AuthenticationStatus.NotAuthentic
        : AuthenticationStatus.NeedsReview;

    private OnnxSession Session(AuthenticationModel model)
    {
        if (sessions.TryGetValue(model.Id, out var session)) return session;
        // One thread per session: the pool has one activation per core, and the model is small (~0.4 ms per capture).
        session = OnnxSession.FromBytes(model.VerifiedBytes, new OnnxSessionOptions { IntraOpThreads = 1, InterOpThreads = 1 });
        if (!session.Inputs.Any(i => i.Name == model.InputName) || !session.Outputs.Any(o => o.Name == model.OutputName))
        {
            session.Dispose();
            throw new InvalidDataException($"Authentication model '{model.Id}' ({model.File}) lacks input '{model.InputName}' or output '{model.OutputName}'.");
        }
        sessions[model.Id] = session;
        return session;
    }

    private static double[] Run(OnnxSession session, AuthenticationModel model, List<float[]> pixels)
    {
        var plane = model.InputSize * model.InputSize;
        var batch = new float[pixels.Count * plane];
        for (var i = 0; i < pixels.Count; i++) pixels[i].CopyTo(batch, i * plane);
        var output = session.Run(new Dictionary<string, OnnxTensor>
        {
            [model.InputName] = new(batch, pixels.Count, 1, model.InputSize, model.InputSize),
        }, [model.OutputName])[model.OutputName];
        if (output.Shape.Count != 2 || output.Shape[0] != pixels.Count || output.Shape[1] != model.ClassCount)
            throw new InvalidDataException($"Authentication model '{model.Id}' returned {output}, expected [{pixels.Count},{model.ClassCount}].");
        var data = output.Data.Span;
        var p = new double[pixels.Count];
        for (var i = 0; i < p.Length; i++) p[i] = data[i * model.ClassCount + model.AuthenticIndex];
        return p;
    }
}
