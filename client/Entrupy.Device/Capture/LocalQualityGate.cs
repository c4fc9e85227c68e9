using Entrupy.Fingerprinting;

namespace Entrupy.Device.Capture;

/// <summary>Outcome of checking one capture on the device.</summary>
/// <param name="Path">The file checked.</param>
/// <param name="Quality">Quality figures when the file could be decoded, else null.</param>
/// <param name="Rejection">Why it fails the gate, or null when it passes.</param>
/// <param name="Message">The engine's explanation of the rejection, or null.</param>
internal sealed record CaptureCheck(string Path, QualityReport? Quality, CaptureRejection? Rejection, string? Message)
{
    /// <summary>True when the capture passes the gate.</summary>
    public bool Passes => Rejection is null;

    /// <summary>What the operator should do differently, or null when it passes.</summary>
    public string? Advice => Rejection is { } r ? RetakeAdvice.For(r) : null;
}

/// <summary>
/// The same quality gate the server applies (<see cref="FingerprintEngine.Assess"/> with the shipped model's limits),
/// run before upload so a bad capture is retaken on the spot instead of being rejected by the server.
/// </summary>
internal sealed class LocalQualityGate : IDisposable
{
    private readonly FingerprintEngine engine;

    private LocalQualityGate(FingerprintEngine engine) => this.engine = engine;

    /// <summary>Loads the model shipped with the tool (or from <paramref name="modelDirectory"/>).</summary>
    public static LocalQualityGate Load(string? modelDirectory = null)
    {
        var model = modelDirectory is null ? FingerprintModel.LoadDefault() : FingerprintModel.Load(modelDirectory);
        return new LocalQualityGate(new FingerprintEngine(model));
    }

    /// <summary>Checks one capture file.</summary>
    public CaptureCheck Check(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new CaptureCheck(path, null, CaptureRejection.NotAnImage, $"cannot read {path}: {e.Message}");
        }
        try
        {
            var quality = engine.Assess(bytes);
            return new CaptureCheck(path, quality, quality.Rejection, quality.Message);
        }
        catch (CaptureRejectedException e)
        {
            return new CaptureCheck(path, e.Quality, e.Reason, e.Message);
        }
    }

    /// <inheritdoc />
    public void Dispose() => engine.Dispose();
}

/// <summary>How to retake a capture, by rejection.</summary>
internal static class RetakeAdvice
{
    /// <summary>The advice for <paramref name="rejection"/>.</summary>
    public static string For(CaptureRejection rejection) => rejection switch
    {
        CaptureRejection.OutOfFocus => "Out of focus: hold the device steady (brace your elbows), tap the spot to refocus, keep 5-10 cm from the surface, and retake.",
        CaptureRejection.Overexposed => "Too bright: move out of direct light or lower the flash/ring-light level, and retake.",
        CaptureRejection.Underexposed => "Too dark: add light (ring light or a brighter spot), avoid shadowing the surface with the device, and retake.",
        CaptureRejection.LowContrast => "No visible texture: aim at a textured area of this spot (grain, weave, engraving), not a plain or glossy patch, and retake.",
        CaptureRejection.Clipped => "Glare or crushed shadows: tilt the device a little so reflections leave the frame, diffuse the light, and retake.",
        CaptureRejection.TooSmall => "Image too small: capture at the camera's full resolution (no crop or thumbnail), or move closer, and retake.",
        CaptureRejection.TooLarge => "Image too large to process: capture at a normal camera resolution and retake.",
        CaptureRejection.Corrupt => "The file is damaged (cut short?): retake, or copy it again from the device.",
        CaptureRejection.NotAnImage => "Not a readable JPEG, PNG or BMP file: retake, or export the capture in one of those formats.",
        _ => "Retake the capture.",
    };
}
