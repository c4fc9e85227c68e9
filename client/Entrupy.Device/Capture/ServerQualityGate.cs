using Entrupy.Client;
using Entrupy.Registry.Api;

namespace Entrupy.Device.Capture;

/// <summary>Outcome of checking one capture.</summary>
/// <param name="Path">The file checked.</param>
/// <param name="Quality">Quality figures when the file could be decoded, else null.</param>
/// <param name="Rejection">Why it fails the gate (snake_case code, as the API gives it), or null when it passes.</param>
/// <param name="Message">The engine's explanation of the rejection, or null.</param>
internal sealed record CaptureCheck(string Path, CaptureQuality? Quality, string? Rejection, string? Message)
{
    /// <summary>True when the capture passes the gate.</summary>
    public bool Passes => Rejection is null;

    /// <summary>What the operator should do differently, or null when it passes.</summary>
    public string? Advice => Rejection is { } r ? RetakeAdvice.For(r) : null;
}

/// <summary>
/// The server's quality gate (<c>POST /captures/assess</c>), asked before upload so a bad capture is retaken on the spot
/// instead of being rejected with the registration. The device carries no model or native engine: the verdict is
/// always the one the server will apply, whatever model version it runs.
/// </summary>
internal sealed class ServerQualityGate(EntrupyClient client)
{
    /// <summary>Checks one capture file.</summary>
    public async Task<CaptureCheck> CheckAsync(string path, CancellationToken cancellationToken)
    {
        CaptureImage image;
        try { image = await CaptureImage.FromFileAsync(path, cancellationToken); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new CaptureCheck(path, null, "not_an_image", $"cannot read {path}: {e.Message}");
        }
        var verdict = (await client.AssessCapturesAsync([image], cancellationToken)).Captures.Single();
        return new CaptureCheck(path, verdict.Quality, verdict.Rejection, verdict.Message);
    }
}

/// <summary>How to retake a capture, by rejection.</summary>
internal static class RetakeAdvice
{
    /// <summary>The advice for a rejection code (snake_case, as the API gives it).</summary>
    public static string For(string rejection) => rejection switch
    {
        "out_of_focus" => "Out of focus: hold the device steady (brace your elbows), tap the spot to refocus, keep 5-10 cm from the surface, and retake.",
        "overexposed" => "Too bright: move out of direct light or lower the flash/ring-light level, and retake.",
        "underexposed" => "Too dark: add light (ring light or a brighter spot), avoid shadowing the surface with the device, and retake.",
        "low_contrast" => "No visible texture: aim at a textured area of this spot (grain, weave, engraving), not a plain or glossy patch, and retake.",
        "clipped" => "Glare or crushed shadows: tilt the device a little so reflections leave the frame, diffuse the light, and retake.",
        "too_small" => "Image too small: capture at the camera's full resolution (no crop or thumbnail), or move closer, and retake.",
        "too_large" => "Image too large to process: capture at a normal camera resolution and retake.",
        "corrupt" => "The file is damaged (cut short?): retake, or copy it again from the device.",
        "not_an_image" => "Not a readable JPEG, PNG or BMP file: retake, or export the capture in one of those formats.",
        _ => "Retake the capture.",
    };
}
