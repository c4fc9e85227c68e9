namespace Entrupy.Fingerprinting;

/// <summary>A capture normalised for a model: <c>Size×Size</c> gray values in [0,1] (row-major), with its quality figures.</summary>
/// <param name="Pixels">The normalised gray pixels, <c>size × size</c> values in [0, 1].</param>
/// <param name="Quality">The quality figures measured on <paramref name="Pixels"/>; always passing.</param>
public readonly record struct NormalisedCapture(float[] Pixels, QualityReport Quality);

/// <summary>
/// The input normalisation every model of the registry shares (docs/fingerprinting-research.md 6.1): decode, gray
/// <c>(0.299 R + 0.587 G + 0.114 B) / 255</c>, centre square crop, exact area resize to the model side (bilinear when
/// smaller), then the fingerprint quality gate.
/// </summary>
/// <remarks>
/// Runs the same code as <see cref="FingerprintEngine"/>, so other models (e.g. authentication) see exactly the pixels
/// and quality figures the fingerprint engine does. Thread-safe (stateless).
/// </remarks>
public static class CaptureNormalisation
{
    /// <summary>Normalises one capture to <paramref name="size"/>² pixels, or throws the rejection (never any other exception for bad bytes).</summary>
    /// <param name="encoded">A JPEG, PNG or BMP file.</param>
    /// <param name="gate">The quality gate (usually <see cref="FingerprintModel.QualityGate"/>).</param>
    /// <param name="size">The model's input side in pixels.</param>
    /// <exception cref="CaptureRejectedException">Unreadable, too small, too large or failing the quality gate.</exception>
    public static NormalisedCapture Prepare(ReadOnlySpan<byte> encoded, QualityGateLimits gate, int size)
    {
        ArgumentNullException.ThrowIfNull(gate);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 3);
        var pixels = new float[size * size];
        var (width, height) = CaptureNormaliser.Decode(encoded, gate, size, pixels);
        var quality = CaptureNormaliser.Assess(pixels, size, width, height, gate);
        if (!quality.Passes) throw new CaptureRejectedException(quality.Rejection!.Value, quality.Message!, quality);
        return new NormalisedCapture(pixels, quality);
    }
}
