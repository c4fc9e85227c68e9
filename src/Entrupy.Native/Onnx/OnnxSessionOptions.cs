namespace Entrupy.Native.Onnx;

/// <summary>Graph optimisation levels (<c>GraphOptimizationLevel</c>).</summary>
public enum OnnxGraphOptimizationLevel
{
    /// <summary>No graph optimisation.</summary>
    None = 0,
    /// <summary>Basic, semantics-preserving rewrites such as constant folding.</summary>
    Basic = 1,
    /// <summary>Basic plus node fusions.</summary>
    Extended = 2,
    /// <summary>Everything, including layout optimisations.</summary>
    All = 99,
}

/// <summary>
/// How an <see cref="OnnxSession"/> is set up. The defaults are sized for a small (2-core) machine shared with other
/// work: at most two intra-op threads, one inter-op thread, and no busy-spinning between runs.
/// </summary>
public sealed record OnnxSessionOptions
{
    private readonly int intraOpThreads = DefaultIntraOpThreads;
    private readonly int interOpThreads = 1;

    /// <summary>Default intra-op thread count: <c>min(2, Environment.ProcessorCount)</c>.</summary>
    public static int DefaultIntraOpThreads => Math.Min(2, Environment.ProcessorCount);

    /// <summary>The defaults.</summary>
    public static OnnxSessionOptions Default { get; } = new();

    /// <summary>Threads used inside one operator (0 lets ORT use one per core). The calling thread counts as one.</summary>
    public int IntraOpThreads
    {
        get => intraOpThreads;
        init => intraOpThreads = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), value, "Must be 0 (ORT decides) or positive.");
    }

    /// <summary>Threads used to run independent operators in parallel (0 lets ORT decide). Only matters with <see cref="ParallelExecution"/>.</summary>
    public int InterOpThreads
    {
        get => interOpThreads;
        init => interOpThreads = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(InterOpThreads), value, "Must be 0 (ORT decides) or positive.");
    }

    /// <summary>
    /// Whether idle pool threads busy-wait for work. Off by default: spinning cuts latency a little on an idle
    /// machine but steals the cores from everything else (it doubled batch latency on a loaded 2-core box).
    /// </summary>
    public bool AllowSpinning { get; init; }

    /// <summary>Graph optimisation level; <see cref="OnnxGraphOptimizationLevel.All"/> by default.</summary>
    public OnnxGraphOptimizationLevel GraphOptimizationLevel { get; init; } = OnnxGraphOptimizationLevel.All;

    /// <summary>Run independent branches of the graph in parallel (ORT_PARALLEL) instead of one node at a time.</summary>
    public bool ParallelExecution { get; init; }
}
