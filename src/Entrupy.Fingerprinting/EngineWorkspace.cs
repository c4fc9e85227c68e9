namespace Entrupy.Fingerprinting;

/// <summary>
/// The buffers of one model run of up to <see cref="Capacity"/> captures: the model input, the model's output maps
/// (ORT writes into them) and per-capture scratch. Pooled by <see cref="FingerprintEngine"/> so extraction allocates
/// only the records it returns.
/// </summary>
internal sealed class EngineWorkspace
{
    public EngineWorkspace(FingerprintConfig cfg, int capacity)
    {
        Capacity = capacity;
        int plane = cfg.InputSize * cfg.InputSize, mapPlane = cfg.MapSize * cfg.MapSize;
        Input = new float[capacity * plane];
        Cells = new float[capacity * cfg.Orientations * mapPlane];
        Response = new float[capacity * mapPlane];
        Slots = new int[capacity];
        Qualities = new QualityReport[capacity];
        Keypoints = new KeypointScratch(cfg);
        Vlad = new double[cfg.DescriptorLength * VladCentresMax];
    }

    /// <summary>Largest VLAD codebook the scratch holds; larger ones allocate their own.</summary>
    public const int VladCentresMax = 64;

    /// <summary>Captures one run can hold.</summary>
    public int Capacity { get; }

    /// <summary>Model input [capacity, 1, size, size].</summary>
    public float[] Input { get; }

    /// <summary>Model output cells [capacity, orientations, map, map].</summary>
    public float[] Cells { get; }

    /// <summary>Model output response [capacity, 1, map, map].</summary>
    public float[] Response { get; }

    /// <summary>Input index of the capture in each model slot.</summary>
    public int[] Slots { get; }

    /// <summary>Quality report of the capture in each model slot.</summary>
    public QualityReport[] Qualities { get; }

    /// <summary>Scratch of <see cref="RecordBuilder.Keypoints"/>.</summary>
    public KeypointScratch Keypoints { get; }

    /// <summary>VLAD accumulator scratch (float64).</summary>
    public double[] Vlad { get; }
}
