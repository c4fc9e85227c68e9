namespace Entrupy.Fingerprinting;

/// <summary>Why a capture cannot be fingerprinted.</summary>
public enum CaptureRejection
{
    /// <summary>The bytes are not a JPEG, PNG or BMP image (or are empty).</summary>
    NotAnImage = 1,

    /// <summary>The file looks like an image but is truncated or damaged.</summary>
    Corrupt = 2,

    /// <summary>The image exceeds the decoder's size limits.</summary>
    TooLarge = 3,

    /// <summary>The short side is below <see cref="QualityGateLimits.MinimumSide"/>.</summary>
    TooSmall = 4,

    /// <summary>Too little fine detail: the capture is blurred (defocus or motion).</summary>
    OutOfFocus = 5,

    /// <summary>The capture is too bright on average.</summary>
    Overexposed = 6,

    /// <summary>The capture is too dark on average.</summary>
    Underexposed = 7,

    /// <summary>The capture is almost uniform: no visible texture.</summary>
    LowContrast = 8,

    /// <summary>Too many pixels are pure black or pure white (saturated highlights or crushed shadows).</summary>
    Clipped = 9,
}

/// <summary>A capture was rejected before fingerprinting; <see cref="Reason"/> says why, the message says what to do.</summary>
public sealed class CaptureRejectedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Category of the rejection.</param>
    /// <param name="message">Actionable explanation for the operator.</param>
    /// <param name="quality">Quality figures when the capture was decoded, else null.</param>
    /// <param name="innerException">The decoder's exception, if any.</param>
    public CaptureRejectedException(CaptureRejection reason, string message, QualityReport? quality = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
        Quality = quality;
    }

    /// <summary>Category of the rejection.</summary>
    public CaptureRejection Reason { get; }

    /// <summary>Quality figures of the capture when it could be decoded, else null.</summary>
    public QualityReport? Quality { get; }
}

/// <summary>Quality figures of a capture, measured on its normalised 256×256 gray image in [0,1].</summary>
/// <param name="Width">Decoded width in pixels.</param>
/// <param name="Height">Decoded height in pixels.</param>
/// <param name="Focus">var(4-neighbour Laplacian) / var(image): higher = sharper.</param>
/// <param name="Mean">Mean brightness.</param>
/// <param name="Contrast">Standard deviation of brightness.</param>
/// <param name="Clipped">Fraction of pixels at 0 or 255.</param>
/// <param name="Rejection">The first failed gate check, or null when the capture passes.</param>
/// <param name="Message">Actionable message for <paramref name="Rejection"/>, or null.</param>
public sealed record QualityReport(int Width, int Height, double Focus, double Mean, double Contrast, double Clipped,
    CaptureRejection? Rejection, string? Message)
{
    /// <summary>True when the capture passes the quality gate.</summary>
    public bool Passes => Rejection is null;

    /// <summary>What the matcher could hold on to (stable keypoints, their spread, noise, blur direction); null for records read from storage.</summary>
    public CaptureEvidence? Evidence { get; init; }
}

/// <summary>What a fingerprint is for: it decides which descriptor sets are extracted.</summary>
public enum FingerprintPurpose
{
    /// <summary>A capture to look up: upright descriptors only (smaller, faster).</summary>
    Probe = 0,

    /// <summary>A capture to register: also the descriptor sets steered to the enrolment rotations (±14°), so probes rotated by up to ~25° still match.</summary>
    Enrolment = 1,
}

/// <summary>Outcome of one capture in <see cref="FingerprintEngine.ExtractBatch"/>: a fingerprint or a rejection.</summary>
/// <param name="Fingerprint">The fingerprint, or null when rejected.</param>
/// <param name="Rejection">Why the capture was rejected, or null.</param>
/// <param name="Message">Actionable rejection message, or null.</param>
public sealed record FingerprintResult(Fingerprint? Fingerprint, CaptureRejection? Rejection, string? Message)
{
    /// <summary>True when a fingerprint was extracted.</summary>
    public bool Succeeded => Fingerprint is not null;
}
