using Entrupy.Fingerprinting;
using Entrupy.Native.Imaging;

namespace Entrupy.Inference;

/// <summary>A capture normalised for a model: <c>Size×Size</c> gray values in [0,1], with its quality figures.</summary>
internal readonly record struct PreparedCapture(float[] Pixels, QualityReport Quality);

/// <summary>
/// The input normalisation shared by the fingerprint and authentication models (docs/fingerprinting-research.md 6.1,
/// models/authentication/MODEL_CARD.md "Input"): decode, gray <c>(0.299 R + 0.587 G + 0.114 B) / 255</c>, centre
/// square crop, exact area resize to the model side (bilinear when smaller), then the fingerprint quality gate.
/// </summary>
/// <remarks>
/// Mirrors Entrupy.Fingerprinting's internal CaptureNormaliser operation for operation (float32 gray, float64
/// resampling), so both models see identical pixels; the tests compare the quality figures with
/// <see cref="FingerprintEngine.Assess"/>. Thread-safe (stateless).
/// </remarks>
internal static class CapturePreprocessor
{
    /// <summary>Normalises one capture, or throws the rejection (never any other exception for bad bytes).</summary>
    /// <exception cref="CaptureRejectedException">Unreadable, too small, or failing the quality gate.</exception>
    public static PreparedCapture Prepare(ReadOnlySpan<byte> encoded, QualityGateLimits gate, int size)
    {
        var image = Decode(encoded);
        if (Math.Min(image.Width, image.Height) < gate.MinimumSide)
            throw new CaptureRejectedException(CaptureRejection.TooSmall,
                $"The capture is {image.Width}×{image.Height} px; at least {gate.MinimumSide} px on the short side is needed. Use the microscope's full resolution.");
        var pixels = Resize(ToGray(image), image.Width, image.Height, size);
        var quality = Assess(pixels, size, image.Width, image.Height, gate);
        if (!quality.Passes) throw new CaptureRejectedException(quality.Rejection!.Value, quality.Message!, quality);
        return new PreparedCapture(pixels, quality);
    }

    private static DecodedImage Decode(ReadOnlySpan<byte> encoded)
    {
        try
        {
            var info = ImageCodec.ReadInfo(encoded);
            // Colour is converted here (not by the codec) so the weights and rounding match the reference exactly.
            return ImageCodec.Decode(encoded, info.Channels >= 3 ? PixelFormat.Rgb8 : PixelFormat.Gray8);
        }
        catch (ImageDecodeException ex)
        {
            throw ex.Reason switch
            {
                ImageDecodeReason.TooLarge => new CaptureRejectedException(CaptureRejection.TooLarge,
                    $"The image is too large to process ({ex.Message}). Send the microscope's native resolution, not an upscaled image.", null, ex),
                ImageDecodeReason.Truncated or ImageDecodeReason.Corrupt => new CaptureRejectedException(CaptureRejection.Corrupt,
                    $"The image file is damaged or cut off ({ex.Message}). Capture again and re-send the whole file.", null, ex),
                _ => new CaptureRejectedException(CaptureRejection.NotAnImage,
                    $"The data is not a JPEG, PNG or BMP image ({ex.Message}). Send the capture file itself.", null, ex),
            };
        }
    }

    internal static float[] ToGray(DecodedImage image)
    {
        var px = image.Pixels;
        var gray = new float[image.Width * image.Height];
        if (image.Format == PixelFormat.Gray8)
        {
            for (var i = 0; i < gray.Length; i++) gray[i] = px[i] / 255f;
            return gray;
        }
        for (int i = 0, p = 0; i < gray.Length; i++, p += 3)
        {
            // Same float32 operation order as numpy: ((r*0.299 + g*0.587) + b*0.114), each channel /255 first.
            var r = px[p] / 255f * 0.299f;
            var g = px[p + 1] / 255f * 0.587f;
            var b = px[p + 2] / 255f * 0.114f;
            gray[i] = r + g + b;
        }
        return gray;
    }

    /// <summary>Centre crop to a square and resample separably (rows, then columns) in float64.</summary>
    internal static float[] Resize(float[] gray, int width, int height, int size)
    {
        var s = Math.Min(width, height);
        int y0 = (height - s) / 2, x0 = (width - s) / 2;
        var (starts, weights, taps) = s >= size ? AreaMatrix(s, size) : InterpMatrix(s, size);
        var tmp = new double[size * s];
        for (var o = 0; o < size; o++)
        {
            var row = tmp.AsSpan(o * s, s);
            for (var t = 0; t < taps; t++)
            {
                var w = weights[o * taps + t];
                if (w == 0) continue;
                var src = gray.AsSpan((y0 + starts[o] + t) * width + x0, s);
                for (var x = 0; x < s; x++) row[x] += w * src[x];
            }
        }
        var output = new float[size * size];
        for (var o = 0; o < size; o++)
        {
            var row = tmp.AsSpan(o * s, s);
            for (var p = 0; p < size; p++)
            {
                double acc = 0;
                for (var t = 0; t < taps; t++)
                {
                    var w = weights[p * taps + t];
                    if (w != 0) acc += row[starts[p] + t] * w;
                }
                output[o * size + p] = (float)acc;
            }
        }
        return output;
    }

    /// <summary>Exact area-averaging matrix (fpcore._area_matrix) in banded form: taps per output from starts[o].</summary>
    private static (int[] Starts, double[] Weights, int Taps) AreaMatrix(int nIn, int nOut)
    {
        var s = (double)nIn / nOut;
        var taps = (int)Math.Ceiling(s) + 1;
        var starts = new int[nOut];
        var weights = new double[nOut * taps];
        for (var o = 0; o < nOut; o++)
        {
            double a = o * s, b = (o + 1) * s;
            int i0 = (int)Math.Floor(a), i1 = (int)Math.Ceiling(b);
            starts[o] = i0;
            for (var i = i0; i < Math.Min(i1, nIn); i++)
            {
                var w = Math.Min(b, i + 1) - Math.Max(a, i);
                if (w > 0) weights[o * taps + (i - i0)] = w / s;
            }
        }
        return (starts, weights, taps);
    }

    /// <summary>Bilinear, half-pixel centres, edge clamped (fpcore._interp_matrix), in banded form.</summary>
    private static (int[] Starts, double[] Weights, int Taps) InterpMatrix(int nIn, int nOut)
    {
        var s = (double)nIn / nOut;
        var starts = new int[nOut];
        var weights = new double[nOut * 2];
        for (var o = 0; o < nOut; o++)
        {
            var x = (o + 0.5) * s - 0.5;
            var x0 = (int)Math.Floor(x);
            var f = x - x0;
            int lo = Math.Clamp(x0, 0, nIn - 1), hi = Math.Clamp(x0 + 1, 0, nIn - 1);
            // Clamping can fold both taps onto one pixel; keep them as two taps with start = lo.
            starts[o] = lo;
            weights[o * 2] += 1 - f;
            if (hi == lo) weights[o * 2] += f; else weights[o * 2 + 1] += f;
        }
        return (starts, weights, 2);
    }

    /// <summary>Quality figures and the first failed check (exposure, contrast, clipping, then focus), as the fingerprint engine measures them.</summary>
    internal static QualityReport Assess(float[] img, int size, int width, int height, QualityGateLimits gate)
    {
        double sum = 0, sumSq = 0;
        var clipped = 0;
        const float low = 1f / 255f, high = 254f / 255f;
        foreach (var v in img)
        {
            sum += v;
            sumSq += (double)v * v;
            if (v <= low || v >= high) clipped++;
        }
        var n = img.Length;
        var mean = sum / n;
        var variance = Math.Max(sumSq / n - mean * mean, 0);
        double lapSum = 0, lapSq = 0;
        for (var y = 1; y < size - 1; y++)
        {
            for (var x = 1; x < size - 1; x++)
            {
                var i = y * size + x;
                double lap = img[i - size] + img[i + size] + img[i - 1] + img[i + 1] - 4 * img[i];
                lapSum += lap;
                lapSq += lap * lap;
            }
        }
        var m = (size - 2) * (size - 2);
        var lapVar = Math.Max(lapSq / m - (lapSum / m) * (lapSum / m), 0);
        var focus = lapVar / Math.Max(variance, 1e-6);
        var contrast = Math.Sqrt(variance);
        var clippedFraction = (double)clipped / n;

        (CaptureRejection? reason, string? message) = (mean, contrast, clippedFraction, focus) switch
        {
            _ when mean < gate.MeanMin => (CaptureRejection.Underexposed,
                $"The capture is too dark (mean brightness {mean:0.###} < {gate.MeanMin}). Turn the microscope light on or up, or increase the exposure."),
            _ when mean > gate.MeanMax => (CaptureRejection.Overexposed,
                $"The capture is too bright (mean brightness {mean:0.###} > {gate.MeanMax}). Lower the light or the exposure."),
            _ when contrast < gate.ContrastMin => (CaptureRejection.LowContrast,
                $"The capture shows no texture (contrast {contrast:0.####} < {gate.ContrastMin}). Place the microscope flat on the material and check the lens is not covered."),
            _ when clippedFraction > gate.ClippedMax => (CaptureRejection.Clipped,
                $"{clippedFraction:P1} of the pixels are pure black or white (limit {gate.ClippedMax:P0}). Reduce glare: lower the light or tilt the item slightly."),
            _ when focus < gate.FocusMin => (CaptureRejection.OutOfFocus,
                $"The capture is blurred (focus {focus:0.#####} < {gate.FocusMin}). Hold the microscope still and refocus before capturing."),
            _ => ((CaptureRejection?)null, (string?)null),
        };
        return new QualityReport(width, height, focus, mean, contrast, clippedFraction, reason, message);
    }
}
