using Orleans;

namespace Entrupy.Registry.Inference;

/// <summary>What a fingerprint is for: enrolment fingerprints carry extra rotated descriptor sets.</summary>
public enum FingerprintUse
{
    /// <summary>A query (compare, trace).</summary>
    Probe = 0,

    /// <summary>A registration.</summary>
    Enrolment = 1,
}

/// <summary>
/// Stateless worker that turns captures into fingerprints with the embedding model (one ONNX Runtime session per
/// activation; the implementation class carries <c>[StatelessWorker]</c>). Concurrent calls are batched into one
/// model run where that pays.
/// </summary>
public interface IFingerprintExtractorGrain : IGrainWithIntegerKey
{
    /// <summary>Decodes, quality-gates and fingerprints each image; one result per image, in order. Never throws for a bad image: the result says why.</summary>
    Task<ExtractionResult[]> Extract(byte[][] images, FingerprintUse use);

    /// <summary>Id and version of the fingerprint model, and its operating threshold.</summary>
    Task<FingerprintModelInfo> GetModel();
}

/// <summary>Result for one capture.</summary>
public sealed record ExtractionResult
{
    /// <summary>Serialized fingerprint (<c>Fingerprint.ToBytes()</c>), or null when rejected.</summary>
    public byte[]? Fingerprint { get; init; }

    /// <summary>The global vector (for the 1:N index), or null when rejected.</summary>
    public float[]? GlobalVector { get; init; }

    /// <summary>Quality figures (also for most rejections).</summary>
    public Api.CaptureQuality? Quality { get; init; }

    /// <summary>Stable rejection code (snake_case of the reason: not_an_image, corrupt, too_large, too_small, out_of_focus, overexposed, underexposed, low_contrast, clipped), or null when accepted.</summary>
    public string? Rejection { get; init; }

    /// <summary>Actionable message for a rejection (how to retake).</summary>
    public string? Message { get; init; }
}

/// <summary>The fingerprint model a silo runs.</summary>
public sealed record FingerprintModelInfo
{
    /// <summary>Model id.</summary>
    public string Id { get; init; } = "";

    /// <summary>Model version.</summary>
    public string Version { get; init; } = "";

    /// <summary>Score at or above which two fingerprints match.</summary>
    public double OperatingThreshold { get; init; }
}

/// <summary>
/// Stateless worker running one authentication model (brand+material), keyed by nothing in particular: the model is
/// chosen per call. Sessions are loaded once per activation and model.
/// </summary>
public interface IAuthenticatorGrain : IGrainWithIntegerKey
{
    /// <summary>Judges the captures with <paramref name="model"/>.</summary>
    /// <exception cref="RegistryNotFoundException">No such model in the registry file.</exception>
    Task<AuthenticationVerdict> Authenticate(string model, byte[][] images);

    /// <summary>The models of the registry file.</summary>
    Task<AuthenticationModelInfo[]> ListModels();
}

/// <summary>A model's verdict over one or more captures.</summary>
public sealed record AuthenticationVerdict
{
    /// <summary>authentic, not_authentic or needs_review (inconclusive).</summary>
    public AuthenticationStatus Status { get; init; }

    /// <summary>Scores by name (e.g. p_authentic, and per capture).</summary>
    public Dictionary<string, double> Scores { get; init; } = [];

    /// <summary>Model id.</summary>
    public string ModelId { get; init; } = "";

    /// <summary>Model version.</summary>
    public string ModelVersion { get; init; } = "";

    /// <summary>Captures the model could not use, with the reason, by index.</summary>
    public Dictionary<int, string> RejectedCaptures { get; init; } = [];
}

/// <summary>An authentication model listed in the registry file.</summary>
public sealed record AuthenticationModelInfo
{
    /// <summary>Model id (brand-material).</summary>
    public string Id { get; init; } = "";

    /// <summary>Version.</summary>
    public string Version { get; init; } = "";

    /// <summary>Brand.</summary>
    public string Brand { get; init; } = "";

    /// <summary>Material.</summary>
    public string Material { get; init; } = "";
}
