using System.Text.Json;

namespace Entrupy.Fingerprinting;

/// <summary>
/// The fingerprint model directory: <c>fingerprint.onnx</c> (embedding network), <c>fingerprint.json</c> (constants,
/// thresholds, quality gate) and the VLAD codebook/mean files used for the global vector.
/// </summary>
/// <remarks>Immutable and thread-safe once loaded. See docs/fingerprinting-research.md section 6.</remarks>
public sealed class FingerprintModel
{
    /// <summary>Name of the constants file inside the model directory.</summary>
    public const string ConfigFileName = "fingerprint.json";

    private FingerprintModel(string directory, string onnxPath, string id, string version, double operatingThreshold,
        double farThreshold, QualityGateLimits gate, FingerprintConfig config, float[] codebook, float[] vladMean)
    {
        Directory = directory;
        OnnxPath = onnxPath;
        Id = id;
        Version = version;
        OperatingThreshold = operatingThreshold;
        FarThreshold = farThreshold;
        QualityGate = gate;
        Config = config;
        Codebook = codebook;
        VladMean = vladMean;
    }

    /// <summary>Full path of the directory the model was loaded from.</summary>
    public string Directory { get; }

    /// <summary>Full path of the ONNX file.</summary>
    public string OnnxPath { get; }

    /// <summary>Model identifier (<c>model_id</c>); fingerprints from other models cannot be compared.</summary>
    public string Id { get; }

    /// <summary>Model version (<c>model_version</c>); part of every stored fingerprint.</summary>
    public string Version { get; }

    /// <summary>Accept threshold on the inlier-count score: a score ≥ this value is a match (open-set safe).</summary>
    public double OperatingThreshold { get; }

    /// <summary>
    /// Per-pair FAR 1e-4 threshold from calibration (<c>threshold_far_1e-4</c>): accept when score ≥ it. Not an
    /// open-set operating point (an unregistered probe meets every item); use <see cref="OperatingThreshold"/>.
    /// </summary>
    public double FarThreshold { get; }

    /// <summary>Quality-gate limits applied to every capture before extraction.</summary>
    public QualityGateLimits QualityGate { get; }

    internal FingerprintConfig Config { get; }

    /// <summary>VLAD codebook [centres × 128], row-major.</summary>
    internal float[] Codebook { get; }

    /// <summary>VLAD training mean [centres × 128].</summary>
    internal float[] VladMean { get; }

    /// <summary>Length of <see cref="Fingerprint.GlobalVector"/>.</summary>
    public int GlobalVectorLength => VladMean.Length;

    /// <summary>Loads the model files from <paramref name="directory"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">A model file is missing.</exception>
    /// <exception cref="InvalidDataException">A model file is corrupt or inconsistent.</exception>
    public static FingerprintModel Load(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir))
            throw new DirectoryNotFoundException($"Fingerprint model directory not found: {dir}");
        var jsonPath = RequireFile(dir, ConfigFileName);
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(jsonPath));
            root = doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{jsonPath} is not valid JSON: {ex.Message}", ex);
        }

        try
        {
            var config = FingerprintConfig.FromJson(root.GetProperty("config"));
            var gateJson = root.GetProperty("quality_gate");
            var gate = new QualityGateLimits(
                gateJson.GetProperty("focus_min").GetDouble(), gateJson.GetProperty("mean_min").GetDouble(),
                gateJson.GetProperty("mean_max").GetDouble(), gateJson.GetProperty("contrast_min").GetDouble(),
                gateJson.GetProperty("clipped_max").GetDouble(), QualityGateLimits.DefaultMinimumSide);
            // The evidence gate (optional block; without it the fixed limits above decide, as in model 1.0.0).
            if (gateJson.TryGetProperty("evidence", out var ev))
            {
                double Get(string name, double fallback) => ev.TryGetProperty(name, out var v) ? v.GetDouble() : fallback;
                gate = gate with
                {
                    UseEvidence = true,
                    BucketEnergyMin = Get("bucket_energy_min", gate.BucketEnergyMin),
                    StableKeypointsMin = (int)Get("stable_keypoints_min", gate.StableKeypointsMin),
                    CoveredBucketsMin = (int)Get("covered_buckets_min", gate.CoveredBucketsMin),
                    AnisotropyMax = Get("anisotropy_max", gate.AnisotropyMax),
                    GlareMax = Get("glare_max", gate.GlareMax),
                    FocusFloor = Get("focus_floor", gate.FocusFloor),
                };
            }
            var onnxPath = RequireFile(dir, root.GetProperty("onnx").GetString() ?? "fingerprint.onnx");
            var codebookJson = root.GetProperty("vlad_codebook");
            var shape = codebookJson.GetProperty("shape");
            int centres = shape[0].GetInt32(), dim = shape[1].GetInt32();
            if (dim != config.DescriptorLength)
                throw new InvalidDataException($"{jsonPath}: codebook width {dim} != descriptor length {config.DescriptorLength}.");
            var codebook = ReadFloats(RequireFile(dir, codebookJson.GetProperty("file").GetString()!), centres * dim);
            var mean = ReadFloats(RequireFile(dir, root.GetProperty("vlad_mean").GetProperty("file").GetString()!), centres * dim);
            return new FingerprintModel(dir, onnxPath,
                root.GetProperty("model_id").GetString() ?? throw new InvalidDataException($"{jsonPath}: model_id is null."),
                root.GetProperty("model_version").GetString() ?? throw new InvalidDataException($"{jsonPath}: model_version is null."),
                root.GetProperty("operating_threshold").GetDouble(), root.GetProperty("threshold_far_1e-4").GetDouble(),
                gate, config, codebook, mean);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"{jsonPath} lacks a field or has one of the wrong type: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Loads the model from the first of: <c>models/fingerprint</c> next to this assembly (copied there by the build),
    /// then <c>models/fingerprint</c> under the repository root found by walking up from <see cref="AppContext.BaseDirectory"/>
    /// to <c>Entrupy.Grains.sln</c>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">Neither location holds the model.</exception>
    public static FingerprintModel LoadDefault() => Load(FindDefaultDirectory());

    /// <summary>The directory <see cref="LoadDefault"/> loads from.</summary>
    /// <exception cref="DirectoryNotFoundException">Neither location holds the model.</exception>
    public static string FindDefaultDirectory()
    {
        var nextToBinaries = Path.Combine(Path.GetDirectoryName(typeof(FingerprintModel).Assembly.Location) ?? AppContext.BaseDirectory,
            "models", "fingerprint");
        if (File.Exists(Path.Combine(nextToBinaries, ConfigFileName))) return nextToBinaries;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Entrupy.Grains.sln"))) continue;
            var inRepo = Path.Combine(dir.FullName, "models", "fingerprint");
            if (File.Exists(Path.Combine(inRepo, ConfigFileName))) return inRepo;
        }
        throw new DirectoryNotFoundException(
            $"No fingerprint model found in {nextToBinaries} nor in models/fingerprint of a repository above {AppContext.BaseDirectory}.");
    }

    /// <inheritdoc />
    public override string ToString() => $"{Id} {Version} ({Directory})";

    private static string RequireFile(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        if (!File.Exists(path)) throw new FileNotFoundException($"Fingerprint model file missing: {path}", path);
        return path;
    }

    private static float[] ReadFloats(string path, int count)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length != count * sizeof(float))
            throw new InvalidDataException($"{path} has {bytes.Length} bytes; expected {count} float32 values ({count * sizeof(float)} bytes).");
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = BitConverter.ToSingle(bytes, i * sizeof(float));
            if (!float.IsFinite(values[i])) throw new InvalidDataException($"{path} holds a non-finite value at index {i}.");
        }
        return values;
    }
}

/// <summary>Quality-gate limits (from <c>fingerprint.json</c>'s <c>quality_gate</c>, plus the minimum capture side).</summary>
/// <remarks>
/// Two modes. Without <see cref="UseEvidence"/> every fixed limit refuses a capture by itself (model 1.0.0's gate).
/// With it (the <c>evidence</c> block), a capture is refused only when the matcher would have too little to hold on
/// to — too few stable keypoints, or too few of the keypoint grid's buckets holding them — or for glare over most of
/// the field or strongly one-directional (motion) blur; the fixed limits then only choose the reason and the advice.
/// </remarks>
/// <param name="FocusMin">Minimum var(Laplacian)/var(image) on the normalised 256×256 capture (evidence gate: picks the blur advice).</param>
/// <param name="MeanMin">Minimum mean brightness in [0,1] (evidence gate: picks the too-dark advice).</param>
/// <param name="MeanMax">Maximum mean brightness in [0,1] (evidence gate: picks the too-bright advice).</param>
/// <param name="ContrastMin">Minimum standard deviation of brightness (evidence gate: unused).</param>
/// <param name="ClippedMax">Maximum fraction of pixels at 0 or 255 (evidence gate: picks the glare advice).</param>
/// <param name="MinimumSide">Smallest accepted short side of the decoded capture, in pixels.</param>
public sealed record QualityGateLimits(double FocusMin, double MeanMin, double MeanMax, double ContrastMin, double ClippedMax, int MinimumSide)
{
    /// <summary>Decide from the matcher's evidence (<see cref="CaptureEvidence"/>) instead of the fixed limits.</summary>
    public bool UseEvidence { get; init; }

    /// <summary>
    /// A bucket of the keypoint grid is covered when its detector RMS (<see cref="CaptureEvidence.BucketEnergy"/>)
    /// reaches this: above what sensor noise alone gives on a featureless surface.
    /// </summary>
    public double BucketEnergyMin { get; init; } = 0.0013;

    /// <summary>Fewest stable keypoints (keypoints in covered buckets) an accepted capture has.</summary>
    public int StableKeypointsMin { get; init; }

    /// <summary>Fewest covered buckets (of 16) an accepted capture has: the evidence must be spread over the field.</summary>
    public int CoveredBucketsMin { get; init; }

    /// <summary>Largest <see cref="CaptureEvidence.Anisotropy"/> accepted (above it: motion blur).</summary>
    public double AnisotropyMax { get; init; } = 1;

    /// <summary>Largest fraction of clipped pixels accepted whatever the evidence (glare over most of the field).</summary>
    public double GlareMax { get; init; } = 1;

    /// <summary>Focus below this is refused whatever the evidence (a capture this blurred has no texture left at the descriptors' scale).</summary>
    public double FocusFloor { get; init; }

    /// <summary>
    /// Default minimum short side: 128 px. Smaller captures would be upsampled more than 2× to the 256-px working
    /// size, which invents no texture: the keypoints would come from interpolation artefacts.
    /// </summary>
    public const int DefaultMinimumSide = 128;
}

/// <summary>Matcher constants from <c>fingerprint.json</c>'s <c>config</c>.</summary>
internal sealed record FingerprintConfig
{
    public int InputSize { get; init; } = 256;
    public int Buckets { get; init; } = 4;
    public int DescriptorGrid { get; init; } = 4;
    public int DescriptorSpacing { get; init; } = 2;
    public int Orientations { get; init; } = 8;
    public int NmsRadius { get; init; } = 2;
    public int MaxKeypoints { get; init; } = 256;
    public int Stride { get; init; } = 2;
    public int RansacTop { get; init; } = 40;
    public double InlierTolerance { get; init; } = 3.0;
    public double MaxRotationDegrees { get; init; } = 20.0;
    public double ScaleMin { get; init; } = 0.85;
    public double ScaleMax { get; init; } = 1.18;
    public double MinPairDistance { get; init; } = 12.0;
    public float[] EnrolRotations { get; init; } = [-14f, 0f, 14f];

    public int MapSize => InputSize / Stride;
    public int DescriptorLength => DescriptorGrid * DescriptorGrid * Orientations;

    public static FingerprintConfig FromJson(JsonElement c)
    {
        var cfg = new FingerprintConfig
        {
            InputSize = c.GetProperty("input_size").GetInt32(),
            Buckets = c.GetProperty("buckets").GetInt32(),
            DescriptorGrid = c.GetProperty("desc_grid").GetInt32(),
            DescriptorSpacing = c.GetProperty("desc_spacing").GetInt32(),
            Orientations = c.GetProperty("n_orient").GetInt32(),
            NmsRadius = c.GetProperty("nms_radius").GetInt32(),
            MaxKeypoints = c.GetProperty("max_keypoints").GetInt32(),
            Stride = c.GetProperty("stride").GetInt32(),
            RansacTop = c.GetProperty("ransac_top").GetInt32(),
            InlierTolerance = c.GetProperty("inlier_tol").GetDouble(),
            MaxRotationDegrees = c.GetProperty("max_rot_deg").GetDouble(),
            ScaleMin = c.GetProperty("scale_range")[0].GetDouble(),
            ScaleMax = c.GetProperty("scale_range")[1].GetDouble(),
            MinPairDistance = c.GetProperty("min_pair_dist").GetDouble(),
            EnrolRotations = c.GetProperty("enrol_rotations").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray(),
        };
        var variant = c.GetProperty("variant").GetString();
        if (variant != "raw128" || cfg.Stride != 2 || cfg.InputSize != 256 || cfg.MaxKeypoints > 256 || !cfg.EnrolRotations.Contains(0f))
            throw new InvalidDataException($"Unsupported fingerprint config (variant {variant}, stride {cfg.Stride}, input {cfg.InputSize}); this build implements raw128 at 256 px.");
        return cfg;
    }
}
