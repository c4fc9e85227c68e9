using System.Text;
using Entrupy.Fingerprinting;
using Entrupy.Registry.Api;
using Entrupy.Registry.Inference;

namespace Entrupy.Inference;

/// <summary>Engine results → wire records of <see cref="IFingerprintExtractorGrain"/>.</summary>
internal static class ExtractionMapping
{
    private static readonly Dictionary<CaptureRejection, string> Codes =
        Enum.GetValues<CaptureRejection>().ToDictionary(r => r, r => SnakeCase(r.ToString()));

    public static FingerprintPurpose ToPurpose(FingerprintUse use) => use switch
    {
        FingerprintUse.Probe => FingerprintPurpose.Probe,
        FingerprintUse.Enrolment => FingerprintPurpose.Enrolment,
        _ => throw new ArgumentOutOfRangeException(nameof(use), use, "Unknown fingerprint use."),
    };

    /// <summary>Stable snake_case code of a rejection (NotAnImage → not_an_image).</summary>
    public static string Code(CaptureRejection rejection) => Codes.TryGetValue(rejection, out var code) ? code : SnakeCase(rejection.ToString());

    /// <summary>Quality as the API shows it: brightness and contrast on the 0-255 scale, like the pixels of the capture.</summary>
    public static CaptureQuality ToApi(QualityReport quality, int index) => new()
    {
        Index = index,
        Width = quality.Width,
        Height = quality.Height,
        Focus = quality.Focus,
        Mean = quality.Mean * 255.0,
        Contrast = quality.Contrast * 255.0,
        Clipped = quality.Clipped,
    };

    /// <summary>
    /// One engine result as the grain returns it. <paramref name="assess"/> re-measures a rejected capture, because
    /// the batch API reports only the reason (quality figures help the operator see how far off the capture was).
    /// </summary>
    public static ExtractionResult ToResult(FingerprintResult result, int index, Func<QualityReport?> assess)
    {
        if (result.Fingerprint is { } print)
        {
            return new ExtractionResult
            {
                Fingerprint = print.ToBytes(),
                GlobalVector = print.GlobalVectorArray(),
                Quality = ToApi(print.Quality, index),
            };
        }
        var rejection = result.Rejection ?? throw new InvalidOperationException("The engine returned neither a fingerprint nor a rejection.");
        var quality = rejection is CaptureRejection.NotAnImage or CaptureRejection.Corrupt or CaptureRejection.TooLarge or CaptureRejection.TooSmall
            ? null
            : assess();
        return Rejected(rejection, result.Message ?? rejection.ToString(), quality is null ? null : ToApi(quality, index));
    }

    public static ExtractionResult Rejected(CaptureRejection rejection, string message, CaptureQuality? quality) => new()
    {
        Rejection = Code(rejection),
        Message = message,
        Quality = quality,
    };

    private static string SnakeCase(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        for (var i = 0; i < pascal.Length; i++)
        {
            if (char.IsUpper(pascal[i]) && i > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(pascal[i]));
        }
        return sb.ToString();
    }
}
