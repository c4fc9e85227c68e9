using Entrupy.Native.Onnx;

namespace Entrupy.Fingerprinting;

/// <summary>
/// Turns encoded captures (JPEG/PNG/BMP bytes) into <see cref="Fingerprint"/> records: decode, normalise, quality
/// gate, the ONNX embedding model, keypoints, descriptors and the global vector.
/// </summary>
/// <remarks>Thread-safe: one ONNX Runtime session shared by all callers (ORT allows concurrent runs).</remarks>
public sealed class FingerprintEngine : IDisposable
{
    private const string InputName = "image";
    private const string CellsOutput = "cells";
    private const string ResponseOutput = "response";
    private static readonly string[] OutputNames = [CellsOutput, ResponseOutput];

    /// <summary>Largest number of captures sent to the model in one run by <see cref="ExtractBatch"/>.</summary>
    public const int MaxBatchSize = 32;

    private readonly OnnxSession session;

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
    }

    /// <summary>The model this engine runs.</summary>
    public FingerprintModel Model { get; }

    /// <summary>Fingerprints one capture.</summary>
    /// <param name="encodedImage">The capture file (JPEG, PNG or BMP).</param>
    /// <param name="purpose">Probe (upright descriptors) or enrolment (also the steered sets).</param>
    /// <exception cref="CaptureRejectedException">The capture is not usable; the message says what to do.</exception>
    public Fingerprint Extract(ReadOnlySpan<byte> encodedImage, FingerprintPurpose purpose)
    {
        var (pixels, quality) = Prepare(encodedImage);
        if (!quality.Passes) throw new CaptureRejectedException(quality.Rejection!.Value, quality.Message!, quality);
        return Embed([pixels], [quality], purpose)[0];
    }

    /// <summary>
    /// Fingerprints several captures with one batched model run (higher throughput than one <see cref="Extract"/>
    /// per capture). Rejected captures are reported in their slot, never thrown.
    /// </summary>
    /// <param name="encodedImages">The capture files.</param>
    /// <param name="purpose">Probe or enrolment, for every capture.</param>
    /// <returns>One result per input, in input order.</returns>
    public IReadOnlyList<FingerprintResult> ExtractBatch(IReadOnlyList<ReadOnlyMemory<byte>> encodedImages, FingerprintPurpose purpose)
    {
        ArgumentNullException.ThrowIfNull(encodedImages);
        var results = new FingerprintResult?[encodedImages.Count];
        // Chunked so a long list never holds more than MaxBatchSize normalised captures and model outputs at once.
        for (var chunk = 0; chunk < encodedImages.Count; chunk += MaxBatchSize)
        {
            var accepted = new List<int>();
            var pixels = new List<float[]>();
            var qualities = new List<QualityReport>();
            for (var i = chunk; i < Math.Min(chunk + MaxBatchSize, encodedImages.Count); i++)
            {
                try
                {
                    var (p, q) = Prepare(encodedImages[i].Span);
                    if (!q.Passes)
                    {
                        results[i] = new FingerprintResult(null, q.Rejection, q.Message);
                        continue;
                    }
                    accepted.Add(i);
                    pixels.Add(p);
                    qualities.Add(q);
                }
                catch (CaptureRejectedException ex)
                {
                    results[i] = new FingerprintResult(null, ex.Reason, ex.Message);
                }
            }
            if (accepted.Count == 0) continue;
            var prints = Embed(pixels, qualities, purpose);
            for (var k = 0; k < accepted.Count; k++) results[accepted[k]] = new FingerprintResult(prints[k], null, null);
        }
        return results!;
    }

    /// <summary>Decodes and measures a capture without fingerprinting it (for live feedback while capturing).</summary>
    /// <exception cref="CaptureRejectedException">The bytes cannot be decoded or the image is too small.</exception>
    public QualityReport Assess(ReadOnlySpan<byte> encodedImage) => Prepare(encodedImage).Quality;

    /// <summary>Releases the ONNX Runtime session.</summary>
    public void Dispose() => session.Dispose();

    private (float[] Pixels, QualityReport Quality) Prepare(ReadOnlySpan<byte> encoded)
    {
        var size = Model.Config.InputSize;
        var normalised = CaptureNormaliser.Decode(encoded, Model.QualityGate, size);
        return (normalised.Pixels, CaptureNormaliser.Assess(normalised.Pixels, size, normalised.Width, normalised.Height, Model.QualityGate));
    }

    private Fingerprint[] Embed(IReadOnlyList<float[]> images, IReadOnlyList<QualityReport> qualities, FingerprintPurpose purpose)
    {
        var cfg = Model.Config;
        int size = cfg.InputSize, plane = size * size, n = cfg.MapSize, mapPlane = n * n, dim = cfg.DescriptorLength;
        var batch = new float[images.Count * plane];
        for (var i = 0; i < images.Count; i++) images[i].CopyTo(batch, i * plane);
        var outputs = session.Run(new Dictionary<string, OnnxTensor>
        {
            [InputName] = new(batch, images.Count, 1, size, size),
        }, OutputNames);
        var cells = outputs[CellsOutput].Data.Span;
        var response = outputs[ResponseOutput].Data.Span;
        var angles = purpose == FingerprintPurpose.Enrolment ? cfg.EnrolRotations : [0f];
        var prints = new Fingerprint[images.Count];
        for (var i = 0; i < images.Count; i++)
        {
            var itemCells = cells.Slice(i * cfg.Orientations * mapPlane, cfg.Orientations * mapPlane);
            var (ky, kx) = RecordBuilder.Keypoints(response.Slice(i * mapPlane, mapPlane), cfg);
            var padded = Fingerprint.PadRows(ky.Length);
            var sets = new float[angles.Length][];
            for (var s = 0; s < angles.Length; s++)
            {
                sets[s] = new float[padded * dim];
                RecordBuilder.Descriptors(itemCells, ky, kx, angles[s], cfg, sets[s]);
            }
            var upright = sets[Array.IndexOf(angles, 0f)];
            var global = RecordBuilder.GlobalVector(upright, ky.Length, Model.Codebook, Model.VladMean, dim);
            prints[i] = new Fingerprint(Model.Id, Model.Version, purpose, kx, ky, (float[])angles.Clone(), sets, global, qualities[i]);
        }
        return prints;
    }
}
