using Entrupy.Fingerprinting;

namespace Entrupy.Inference;

/// <summary>How <see cref="Registry.Inference.IFingerprintExtractorGrain"/> feeds captures to ONNX Runtime.</summary>
public enum ExtractionBatching
{
    /// <summary>Each call runs its own captures on its activation's session (one model run per call).</summary>
    PerCall = 0,

    /// <summary>
    /// Captures of concurrent calls join one silo-wide queue; up to one runner per core takes up to
    /// <see cref="InferenceOptions.MaxBatchSize"/> of them per model run. No timer: a capture that finds a runner free
    /// runs at once, and captures that arrive while all runners are busy form the next batch.
    /// </summary>
    Coalesced = 1,
}

/// <summary>Settings of the inference grains (see <see cref="InferenceSiloBuilderExtensions.AddInferenceGrains"/>).</summary>
public sealed record InferenceOptions
{
    private readonly int maxBatchSize = DefaultMaxBatchSize;
    private readonly int? intraOpThreads;

    /// <summary>
    /// Default <see cref="MaxBatchSize"/>: 8. On the 2-core machine (<c>bench/run inference --batch-sweep</c>) the
    /// engine's CPU time per capture is lowest for batches of 2-4 and no lower from 8 to 32, while a bigger batch only
    /// makes its callers wait longer.
    /// </summary>
    public const int DefaultMaxBatchSize = 8;

    /// <summary>The defaults.</summary>
    public static InferenceOptions Default { get; } = new();

    /// <summary>Batching strategy of the extractor; the default is the one measured faster on the 2-core reference machine (<c>bench/run inference</c>).</summary>
    public ExtractionBatching Batching { get; init; } = ExtractionBatching.PerCall;

    /// <summary>Most captures per model run when coalescing (1 to <see cref="FingerprintEngine.MaxBatchSize"/>).</summary>
    public int MaxBatchSize
    {
        get => maxBatchSize;
        init => maxBatchSize = value is >= 1 and <= FingerprintEngine.MaxBatchSize
            ? value
            : throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), value, $"Must be 1 to {FingerprintEngine.MaxBatchSize}.");
    }

    /// <summary>
    /// ONNX Runtime intra-op threads per session; null chooses: the cores divided by the worker pool size (at least
    /// 1), so a full pool of single-threaded sessions uses each core once instead of oversubscribing it.
    /// </summary>
    public int? IntraOpThreadsPerSession
    {
        get => intraOpThreads;
        init => intraOpThreads = value is null or >= 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(IntraOpThreadsPerSession), value, "Must be null (automatic) or at least 1.");
    }

    /// <summary>Fingerprint model directory; null: <see cref="FingerprintModel.LoadDefault"/>.</summary>
    public string? FingerprintModelDirectory { get; init; }

    /// <summary>
    /// Directory of the authentication models' <c>registry.json</c>; null: <c>models/authentication</c> next to this
    /// assembly (copied there by the build), else under the repository root above the application.
    /// </summary>
    public string? AuthenticationModelDirectory { get; init; }

    /// <summary>The intra-op thread count a session gets when the worker pool holds <paramref name="poolSize"/> sessions.</summary>
    public int ResolveIntraOpThreads(int poolSize) =>
        IntraOpThreadsPerSession ?? Math.Max(1, Environment.ProcessorCount / Math.Max(1, poolSize));
}
