using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Entrupy.Native.Onnx;

namespace Entrupy.Fingerprinting;

/// <summary>
/// Turns encoded captures (JPEG/PNG/BMP bytes) into <see cref="Fingerprint"/> records: decode, normalise, quality
/// gate, the ONNX embedding model, keypoints, descriptors and the global vector.
/// </summary>
/// <remarks>
/// Thread-safe: one ONNX Runtime session shared by all callers (ORT allows concurrent runs). <see cref="ExtractBatch"/>
/// spreads its captures over the machine's cores: each core decodes a few captures, runs the model on them as one batch
/// and builds their records, so decoding on one core overlaps the model on another and every buffer is reused.
/// </remarks>
public sealed class FingerprintEngine : IDisposable
{
    private const string InputName = "image";
    private const string CellsOutput = "cells";
    private const string ResponseOutput = "response";
    private static readonly string[] OutputNames = [CellsOutput, ResponseOutput];

    /// <summary>Largest number of captures sent to the model in one run by <see cref="ExtractBatch"/>.</summary>
    public const int MaxBatchSize = 32;

    /// <summary>
    /// Captures per model run inside <see cref="ExtractBatch"/>. Small runs keep ORT's intermediate maps in the CPU cache:
    /// per image, runs of 1, 2, 4, 8, 16 cost 0.58, 0.56, 0.60, 0.69, 0.92 ms of one core on the 2-core dev VM (runs of
    /// 32: ~1 ms), and many small runs also balance better over the cores.
    /// </summary>
    internal const int DefaultRunSize = 2;

    // Workspaces kept for reuse; more exist only while more threads extract at once.
    private const int MaxPooledWorkspaces = 8;

    private readonly OnnxSession session;
    private readonly ConcurrentQueue<EngineWorkspace> workspaces = new();
    private int pooledWorkspaces;
    private int runSize = DefaultRunSize;
    private int maxParallelism = Environment.ProcessorCount;

    /// <summary>Creates an engine for <paramref name="model"/>.</summary>
    /// <param name="model">The loaded model.</param>
    /// <param name="sessionOptions">ONNX Runtime options; ORT defaults of this repository when null.</param>
    /// <exception cref="OnnxRuntimeException">ORT cannot load the model file.</exception>
    public FingerprintEngine(FingerprintModel model, OnnxSessionOptions? sessionOptions = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        session = OnnxSession.FromFile(model.OnnxPath, sessionOptions);
        if (!session.Inputs.Any(i => i.Name == InputName) || OutputNames.Any(o => !session.Outputs.Any(x => x.Name == o)))
        {
            session.Dispose();
            throw new InvalidDataException($"{model.OnnxPath} does not have input '{InputName}' and outputs '{CellsOutput}', '{ResponseOutput}'.");
        }
        var cfg = model.Config;
        // Model outputs are written straight into buffers sized from the config, so the two must agree.
        if (!Fits(CellsOutput, [-1, cfg.Orientations, cfg.MapSize, cfg.MapSize]) || !Fits(ResponseOutput, [-1, 1, cfg.MapSize, cfg.MapSize]))
        {
            session.Dispose();
            throw new InvalidDataException(
                $"{model.OnnxPath} outputs do not have the shapes its config implies ([N,{cfg.Orientations},{cfg.MapSize},{cfg.MapSize}] and [N,1,{cfg.MapSize},{cfg.MapSize}]).");
        }
    }

    /// <summary>The model this engine runs.</summary>
    public FingerprintModel Model { get; }

    /// <summary>Fingerprints one capture.</summary>
    /// <param name="encodedImage">The capture file (JPEG, PNG or BMP).</param>
    /// <param name="purpose">Probe (upright descriptors) or enrolment (also the steered sets).</param>
    /// <exception cref="CaptureRejectedException">The capture is not usable; the message says what to do.</exception>
    public Fingerprint Extract(ReadOnlySpan<byte> encodedImage, FingerprintPurpose purpose)
    {
        var workspace = RentWorkspace();
        try
        {
            var quality = Prepare(encodedImage, workspace, 0);
            if (!quality.Passes) throw new CaptureRejectedException(quality.Rejection!.Value, quality.Message!, quality);
            RunModel(workspace, 1);
            var print = Build(workspace, 0, quality, purpose);
            Clock?.CountCaptures(1);
            return print;
        }
        finally
        {
            ReturnWorkspace(workspace);
        }
    }

    /// <summary>
    /// Fingerprints several captures with batched model runs spread over the machine's cores (higher throughput than
    /// one <see cref="Extract"/> per capture). Rejected captures are reported in their slot, never thrown.
    /// </summary>
    /// <param name="encodedImages">The capture files.</param>
    /// <param name="purpose">Probe or enrolment, for every capture.</param>
    /// <returns>One result per input, in input order.</returns>
    public IReadOnlyList<FingerprintResult> ExtractBatch(IReadOnlyList<ReadOnlyMemory<byte>> encodedImages, FingerprintPurpose purpose)
    {
        ArgumentNullException.ThrowIfNull(encodedImages);
        var results = new FingerprintResult?[encodedImages.Count];
        int size = runSize, runs = (encodedImages.Count + size - 1) / size, parallelism = Math.Min(maxParallelism, runs);
        if (parallelism <= 1)
        {
            for (var run = 0; run < runs; run++) ExtractRun(encodedImages, run * size, size, purpose, results);
            return results!;
        }
        try
        {
            Parallel.For(0, runs, new ParallelOptions { MaxDegreeOfParallelism = parallelism },
                run => ExtractRun(encodedImages, run * size, size, purpose, results));
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
        {
            // Callers see the same exception a sequential loop would have thrown, not a wrapper.
            ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
        }
        return results!;
    }

    /// <summary>Decodes and measures a capture without fingerprinting it (for live feedback while capturing).</summary>
    /// <exception cref="CaptureRejectedException">The bytes cannot be decoded or the image is too small.</exception>
    public QualityReport Assess(ReadOnlySpan<byte> encodedImage)
    {
        var workspace = RentWorkspace();
        try
        {
            return Prepare(encodedImage, workspace, 0);
        }
        finally
        {
            ReturnWorkspace(workspace);
        }
    }

    /// <summary>Releases the ONNX Runtime session.</summary>
    public void Dispose() => session.Dispose();

    /// <summary>When set, every stage adds its time here (profiling; see bench/run embed).</summary>
    internal EngineStageClock? Clock { get; set; }

    /// <summary>Captures per model run in <see cref="ExtractBatch"/> (1 to <see cref="MaxBatchSize"/>).</summary>
    internal int RunSize
    {
        get => runSize;
        set => runSize = value is >= 1 and <= MaxBatchSize ? value : throw new ArgumentOutOfRangeException(nameof(value), value, $"Must be 1 to {MaxBatchSize}.");
    }

    /// <summary>Most model runs of one <see cref="ExtractBatch"/> call in flight at once (default: one per core).</summary>
    internal int MaxParallelism
    {
        get => maxParallelism;
        set => maxParallelism = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be at least 1.");
    }

    /// <summary>Prepares, embeds and builds captures [start, start + count) of <paramref name="images"/> as one model run.</summary>
    private void ExtractRun(IReadOnlyList<ReadOnlyMemory<byte>> images, int start, int count, FingerprintPurpose purpose, FingerprintResult?[] results)
    {
        var workspace = RentWorkspace(count);
        try
        {
            var accepted = 0;
            for (var i = start; i < Math.Min(start + count, images.Count); i++)
            {
                try
                {
                    // Written into the next free model slot; a rejected capture's slot is simply reused.
                    var quality = Prepare(images[i].Span, workspace, accepted);
                    if (!quality.Passes)
                    {
                        results[i] = new FingerprintResult(null, quality.Rejection, quality.Message);
                        continue;
                    }
                    workspace.Slots[accepted] = i;
                    workspace.Qualities[accepted] = quality;
                    accepted++;
                }
                catch (CaptureRejectedException ex)
                {
                    results[i] = new FingerprintResult(null, ex.Reason, ex.Message);
                }
            }
            if (accepted == 0) return;
            RunModel(workspace, accepted);
            for (var k = 0; k < accepted; k++)
                results[workspace.Slots[k]] = new FingerprintResult(Build(workspace, k, workspace.Qualities[k], purpose), null, null);
            Clock?.CountCaptures(accepted);
        }
        finally
        {
            ReturnWorkspace(workspace);
        }
    }

    /// <summary>Decodes and normalises a capture into model slot <paramref name="slot"/> and measures its quality.</summary>
    private QualityReport Prepare(ReadOnlySpan<byte> encoded, EngineWorkspace workspace, int slot)
    {
        var size = Model.Config.InputSize;
        var pixels = workspace.Input.AsSpan(slot * size * size, size * size);
        var (width, height) = CaptureNormaliser.Decode(encoded, Model.QualityGate, size, pixels, Clock);
        var started = Clock?.Start() ?? 0;
        var quality = CaptureNormaliser.Assess(pixels, size, width, height, Model.QualityGate, Model.Config);
        Clock?.Add(EngineStage.Quality, started);
        return quality;
    }

    /// <summary>Runs the model on the first <paramref name="count"/> slots; ORT writes the maps into the workspace.</summary>
    private void RunModel(EngineWorkspace workspace, int count)
    {
        var cfg = Model.Config;
        int size = cfg.InputSize, n = cfg.MapSize, mapPlane = n * n;
        var started = Clock?.Start() ?? 0;
        session.RunInto(
            new Dictionary<string, OnnxTensor>(1) { [InputName] = new(workspace.Input.AsMemory(0, count * size * size), count, 1, size, size) },
            new Dictionary<string, OnnxOutputBuffer>(2)
            {
                [CellsOutput] = new(workspace.Cells.AsMemory(0, count * cfg.Orientations * mapPlane), count, cfg.Orientations, n, n),
                [ResponseOutput] = new(workspace.Response.AsMemory(0, count * mapPlane), count, 1, n, n),
            });
        Clock?.Add(EngineStage.Model, started);
    }

    /// <summary>Keypoints, descriptor sets and global vector of model slot <paramref name="slot"/>.</summary>
    private Fingerprint Build(EngineWorkspace workspace, int slot, QualityReport quality, FingerprintPurpose purpose)
    {
        var cfg = Model.Config;
        int mapPlane = cfg.MapSize * cfg.MapSize, dim = cfg.DescriptorLength;
        var cells = workspace.Cells.AsSpan(slot * cfg.Orientations * mapPlane, cfg.Orientations * mapPlane);
        var started = Clock?.Start() ?? 0;
        var (ky, kx) = RecordBuilder.Keypoints(workspace.Response.AsSpan(slot * mapPlane, mapPlane), cfg, workspace.Keypoints);
        Clock?.Add(EngineStage.Keypoints, started);

        started = Clock?.Start() ?? 0;
        var angles = purpose == FingerprintPurpose.Enrolment ? (float[])cfg.EnrolRotations.Clone() : [0f];
        var padded = Fingerprint.PadRows(ky.Length);
        var sets = new float[angles.Length][];
        for (var s = 0; s < angles.Length; s++)
        {
            sets[s] = new float[padded * dim];
            RecordBuilder.Descriptors(cells, ky, kx, angles[s], cfg, sets[s]);
        }
        Clock?.Add(EngineStage.Descriptors, started);

        started = Clock?.Start() ?? 0;
        var upright = sets[Array.IndexOf(angles, 0f)];
        var global = RecordBuilder.GlobalVector(upright, ky.Length, Model.Codebook, Model.VladMean, dim, workspace.Vlad);
        Clock?.Add(EngineStage.GlobalVector, started);
        return new Fingerprint(Model.Id, Model.Version, purpose, kx, ky, angles, sets, global, quality);
    }

    private bool Fits(string output, long[] expected)
    {
        var shape = session.Outputs.First(o => o.Name == output).Shape;
        if (shape.Count != expected.Length) return false;
        for (var d = 0; d < expected.Length; d++)
            if (shape[d] >= 0 && expected[d] >= 0 && shape[d] != expected[d]) return false;
        return true;
    }

    private EngineWorkspace RentWorkspace(int minimumCapacity = 1)
    {
        // A workspace smaller than asked for (RunSize was raised since it was made) is dropped.
        while (workspaces.TryDequeue(out var workspace))
        {
            Interlocked.Decrement(ref pooledWorkspaces);
            if (workspace.Capacity >= minimumCapacity) return workspace;
        }
        return new EngineWorkspace(Model.Config, Math.Max(minimumCapacity, runSize));
    }

    private void ReturnWorkspace(EngineWorkspace workspace)
    {
        if (Interlocked.Increment(ref pooledWorkspaces) <= MaxPooledWorkspaces) workspaces.Enqueue(workspace);
        else Interlocked.Decrement(ref pooledWorkspaces);
    }
}
