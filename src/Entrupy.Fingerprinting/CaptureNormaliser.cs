using System.Buffers;
using System.Collections.Concurrent;
using System.Numerics;
using Entrupy.Native.Imaging;

namespace Entrupy.Fingerprinting;

/// <summary>
/// Decode → gray → centre square crop → 256×256 (spec 6.1), and the quality gate. Arithmetic mirrors
/// fpcore.to_gray/normalise/quality (float32 gray, float64 resampling) so the pixels match the reference.
/// </summary>
/// <remarks>
/// Throughput: pixels are decoded into pooled buffers and written straight into the caller's model input, the gray
/// conversion and both resampling passes are vectorised, and a crop that is already the model size skips resampling
/// (area weights of exactly 1, so the result is bit-identical). The pixels are the same floats as the scalar code this
/// replaced gave (only independent elements are computed side by side, every sum keeps its order); the quality figures'
/// float64 sums run in another order, which moves them by ~1e-12 relative.
/// </remarks>
internal static class CaptureNormaliser
{
    /// <summary>v / 255 for every byte, and the BT.601-weighted channel terms of fpcore.to_gray, as float32.</summary>
    private static readonly float[] RedTerm = Table(0.299f), GreenTerm = Table(0.587f), BlueTerm = Table(0.114f);

    private static readonly ConcurrentDictionary<(int In, int Out), Bands> BandsBySize = new();

    /// <summary>
    /// Decodes <paramref name="encoded"/> and writes its normalised <paramref name="size"/>² gray pixels into
    /// <paramref name="destination"/>.
    /// </summary>
    /// <returns>The decoded image's width and height.</returns>
    /// <exception cref="CaptureRejectedException">Not an image, damaged, too large or too small.</exception>
    public static (int Width, int Height) Decode(ReadOnlySpan<byte> encoded, QualityGateLimits gate, int size, Span<float> destination,
        EngineStageClock? clock = null)
    {
        byte[]? pixels = null;
        var started = clock?.Start() ?? 0;
        try
        {
            ImageInfo info;
            PixelFormat format;
            try
            {
                info = ImageCodec.ReadInfo(encoded);
                // Colour is converted here (not by the codec) so the weights and rounding match the reference exactly.
                format = info.Channels >= 3 ? PixelFormat.Rgb8 : PixelFormat.Gray8;
                pixels = ArrayPool<byte>.Shared.Rent(ImageCodec.DecodedSize(info, format));
                ImageCodec.DecodeInto(encoded, info, format, pixels, DecodeLimits.Default);
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
            if (Math.Min(info.Width, info.Height) < gate.MinimumSide)
                throw new CaptureRejectedException(CaptureRejection.TooSmall,
                    $"The capture is {info.Width}×{info.Height} px; at least {gate.MinimumSide} px on the short side is needed. Use the microscope's full resolution.");
            clock?.Add(EngineStage.Decode, started);
            started = clock?.Start() ?? 0;
            Normalise(pixels, info.Width, info.Height, (int)format, size, destination);
            clock?.Add(EngineStage.Normalise, started);
            return (info.Width, info.Height);
        }
        finally
        {
            if (pixels is not null) ArrayPool<byte>.Shared.Return(pixels);
        }
    }

    /// <summary>
    /// Gray conversion, centre square crop and resampling (separable, rows then columns, float64) of 8-bit pixels
    /// (<paramref name="channels"/> 1 = gray, 3 = RGB) into <paramref name="destination"/> (size × size).
    /// </summary>
    public static void Normalise(ReadOnlySpan<byte> pixels, int width, int height, int channels, int size, Span<float> destination)
    {
        var s = Math.Min(width, height);
        int y0 = (height - s) / 2, x0 = (width - s) / 2;
        destination = destination[..(size * size)];
        if (s == size)
        {
            // Area averaging at ratio 1 has one tap of weight exactly 1.0: the resampled value is the gray value itself.
            for (var y = 0; y < size; y++)
                ToGray(pixels.Slice(((y0 + y) * width + x0) * channels, s * channels), channels, destination.Slice(y * size, size));
            return;
        }

        var crop = ArrayPool<float>.Shared.Rent(s * s);
        var columns = ArrayPool<double>.Shared.Rent(size * s);
        var transposed = ArrayPool<double>.Shared.Rent(size * s);
        var result = ArrayPool<double>.Shared.Rent(size * size);
        try
        {
            for (var y = 0; y < s; y++)
                ToGray(pixels.Slice(((y0 + y) * width + x0) * channels, s * channels), channels, crop.AsSpan(y * s, s));
            var bands = BandsBySize.GetOrAdd((s, size), static key => key.In >= key.Out ? AreaBands(key.In, key.Out) : InterpBands(key.In, key.Out));
            // m·g (vertical pass), then m·(m·g)ᵀ = (m·g·mᵀ)ᵀ: the horizontal pass runs as a second vertical pass over the
            // transpose, so both vectorise along contiguous rows.
            ResampleRows(bands, crop.AsSpan(0, s * s), s, columns.AsSpan(0, size * s));
            Transpose(columns.AsSpan(0, size * s), size, s, transposed.AsSpan(0, size * s));
            ResampleRows(bands, transposed.AsSpan(0, s * size), size, result.AsSpan(0, size * size));
            for (var p = 0; p < size; p++)
                for (var o = 0; o < size; o++)
                    destination[o * size + p] = (float)result[p * size + o];
        }
        finally
        {
            ArrayPool<float>.Shared.Return(crop);
            ArrayPool<double>.Shared.Return(columns);
            ArrayPool<double>.Shared.Return(transposed);
            ArrayPool<double>.Shared.Return(result);
        }
    }

    /// <summary>One row of 8-bit gray or RGB to float32 gray in [0, 1], exactly as fpcore.to_gray computes it.</summary>
    private static void ToGray(ReadOnlySpan<byte> source, int channels, Span<float> destination)
    {
        if (channels == 1)
        {
            var i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var scale = new Vector<float>(255f);
                for (; i <= destination.Length - Vector<byte>.Count; i += Vector<byte>.Count)
                {
                    Vector.Widen(new Vector<byte>(source[i..]), out var lo16, out var hi16);
                    Vector.Widen(lo16, out var a, out var b);
                    Vector.Widen(hi16, out var c, out var d);
                    var step = Vector<float>.Count;
                    // Division, not a multiply by 1/255: the same correctly rounded quotient as the reference's / 255.0.
                    (Vector.ConvertToSingle(a) / scale).CopyTo(destination[i..]);
                    (Vector.ConvertToSingle(b) / scale).CopyTo(destination[(i + step)..]);
                    (Vector.ConvertToSingle(c) / scale).CopyTo(destination[(i + 2 * step)..]);
                    (Vector.ConvertToSingle(d) / scale).CopyTo(destination[(i + 3 * step)..]);
                }
            }
            for (; i < destination.Length; i++) destination[i] = source[i] / 255f;
            return;
        }
        // Same float32 operation order as numpy: ((r*0.299 + g*0.587) + b*0.114), each channel /255 first; the terms come
        // from tables computed with exactly those operations.
        for (int i = 0, p = 0; i < destination.Length; i++, p += 3)
            destination[i] = RedTerm[source[p]] + GreenTerm[source[p + 1]] + BlueTerm[source[p + 2]];
    }

    private static float[] Table(float weight)
    {
        var table = new float[256];
        for (var v = 0; v < 256; v++) table[v] = v / 255f * weight;
        return table;
    }

    /// <summary>output[o, x] = Σ_t weight[o, t] · input[start[o] + t, x] for every column x (float64, taps in order).</summary>
    private static void ResampleRows<T>(Bands bands, ReadOnlySpan<T> input, int columns, Span<double> output)
        where T : unmanaged, INumberBase<T>
    {
        var taps = bands.Taps;
        for (var o = 0; o < bands.Starts.Length; o++)
        {
            var row = output.Slice(o * columns, columns);
            row.Clear();
            for (var t = 0; t < taps; t++)
            {
                var w = bands.Weights[o * taps + t];
                // Zero-weight taps may lie past the last input row: never read them.
                if (w == 0) continue;
                var source = input.Slice((bands.Starts[o] + t) * columns, columns);
                AddScaled(row, source, w);
            }
        }
    }

    /// <summary>row[x] += w · source[x], source widened to float64 first.</summary>
    private static void AddScaled<T>(Span<double> row, ReadOnlySpan<T> source, double w) where T : unmanaged, INumberBase<T>
    {
        var x = 0;
        var weight = new Vector<double>(w);
        if (typeof(T) == typeof(float))
        {
            var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(source);
            var step = Vector<float>.Count;
            for (; x <= row.Length - step; x += step)
            {
                Vector.Widen(new Vector<float>(floats[x..]), out var lo, out var hi);
                (new Vector<double>(row[x..]) + weight * lo).CopyTo(row[x..]);
                (new Vector<double>(row[(x + step / 2)..]) + weight * hi).CopyTo(row[(x + step / 2)..]);
            }
            for (; x < row.Length; x++) row[x] += w * floats[x];
            return;
        }
        var doubles = System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(source);
        for (; x <= row.Length - Vector<double>.Count; x += Vector<double>.Count)
            (new Vector<double>(row[x..]) + weight * new Vector<double>(doubles[x..])).CopyTo(row[x..]);
        for (; x < row.Length; x++) row[x] += w * doubles[x];
    }

    /// <summary>Transposes rows × columns into columns × rows, in cache-sized tiles.</summary>
    private static void Transpose(ReadOnlySpan<double> input, int rows, int columns, Span<double> output)
    {
        const int tile = 32;
        for (var r0 = 0; r0 < rows; r0 += tile)
        {
            var r1 = Math.Min(rows, r0 + tile);
            for (var c0 = 0; c0 < columns; c0 += tile)
            {
                var c1 = Math.Min(columns, c0 + tile);
                for (var r = r0; r < r1; r++)
                    for (var c = c0; c < c1; c++)
                        output[c * rows + r] = input[r * columns + c];
            }
        }
    }

    /// <summary>A resampling matrix [out × in] in banded form: output o reads inputs start[o] .. start[o] + taps - 1.</summary>
    private sealed record Bands(int[] Starts, double[] Weights, int Taps);

    /// <summary>Exact area-averaging matrix (fpcore._area_matrix) in banded form: taps per output from starts[o].</summary>
    private static Bands AreaBands(int nIn, int nOut)
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
        return new Bands(starts, weights, taps);
    }

    /// <summary>Bilinear, half-pixel centres, edge clamped (fpcore._interp_matrix), in banded form.</summary>
    private static Bands InterpBands(int nIn, int nOut)
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
        return new Bands(starts, weights, 2);
    }

    private static readonly FingerprintConfig DefaultConfig = new();

    /// <summary>
    /// Quality figures and the gate's decision: with the fixed-limit gate the first failed check (exposure, contrast,
    /// clipping, then focus); with the evidence gate (<see cref="QualityGateLimits.UseEvidence"/>) a refusal only when
    /// the matcher's evidence is too weak or too badly spread, or for glare over most of the field or motion blur.
    /// </summary>
    public static QualityReport Assess(ReadOnlySpan<float> img, int size, int width, int height, QualityGateLimits gate,
        FingerprintConfig? config = null)
    {
        img = img[..(size * size)];
        var (sum, sumSq, clipped) = Moments(img);
        var n = img.Length;
        var mean = sum / n;
        var variance = Math.Max(sumSq / n - mean * mean, 0);
        var (lapSum, lapSq) = LaplacianMoments(img, size);
        var m = (size - 2) * (size - 2);
        var lapVar = Math.Max(lapSq / m - (lapSum / m) * (lapSum / m), 0);
        var focus = lapVar / Math.Max(variance, 1e-6);
        var contrast = Math.Sqrt(variance);
        var clippedFraction = (double)clipped / n;

        if (gate.UseEvidence)
        {
            var evidence = EvidenceMeter.Measure(img, size, config ?? DefaultConfig, gate);
            var (why, advice) = EvidenceDecision(gate, evidence, mean, contrast, clippedFraction, focus);
            return new QualityReport(width, height, focus, mean, contrast, clippedFraction, why, advice) { Evidence = evidence };
        }

        (CaptureRejection? reason, string? message) = (mean, contrast, clippedFraction, focus) switch
        {
            _ when mean < gate.MeanMin => Dark(mean, gate),
            _ when mean > gate.MeanMax => Bright(mean, gate),
            _ when contrast < gate.ContrastMin => (CaptureRejection.LowContrast,
                $"The capture shows no texture (contrast {contrast:0.####} < {gate.ContrastMin}). Place the microscope flat on the material and check the lens is not covered."),
            _ when clippedFraction > gate.ClippedMax => Glare(clippedFraction, gate.ClippedMax),
            _ when focus < gate.FocusMin => (CaptureRejection.OutOfFocus,
                $"The capture is blurred (focus {focus:0.#####} < {gate.FocusMin}). Hold the microscope still and refocus before capturing."),
            _ => ((CaptureRejection?)null, (string?)null),
        };
        return new QualityReport(width, height, focus, mean, contrast, clippedFraction, reason, message);
    }

    /// <summary>
    /// The evidence gate's decision. The reason names the most likely cause among the fixed figures, so the advice says
    /// what to change; the fixed limits never refuse a capture that holds enough evidence.
    /// </summary>
    private static (CaptureRejection?, string?) EvidenceDecision(QualityGateLimits gate, CaptureEvidence e, double mean, double contrast, double clipped, double focus)
    {
        var weak = e.StableKeypoints < gate.StableKeypointsMin || e.CoveredBuckets < gate.CoveredBucketsMin;
        var evidence = $"{e.StableKeypoints} stable keypoints in {e.CoveredBuckets} of 16 regions; at least {gate.StableKeypointsMin} in {gate.CoveredBucketsMin} needed";
        if (weak && mean < gate.MeanMin) return Dark(mean, gate, evidence);
        if (weak && mean > gate.MeanMax) return Bright(mean, gate, evidence);
        if (clipped > gate.GlareMax || (weak && clipped > gate.ClippedMax)) return Glare(clipped, weak ? gate.ClippedMax : gate.GlareMax, evidence);
        // A nearly uniform field (std under a quarter of the old contrast limit, ~1 grey level): nothing to focus on, so
        // the advice is about the surface; a blurred texture keeps more variation than that and gets the focus advice.
        if (weak && contrast < gate.ContrastMin / 4) return Featureless(evidence);
        if (focus < gate.FocusFloor || (weak && focus < gate.FocusMin))
            return (CaptureRejection.OutOfFocus,
                $"The capture is blurred (focus {focus:0.#####}; {evidence}). Hold the microscope still, flat on the surface, and refocus before capturing.");
        // Weak evidence with visible shading is either a defocused texture or a featureless spot: the figures cannot
        // tell them apart (a soft real texture can have a lower focus figure and still match), so the advice names both.
        if (e.Anisotropy > gate.AnisotropyMax)
            return (CaptureRejection.OutOfFocus,
                $"The capture is smeared in one direction (motion blur; directionality {e.Anisotropy:0.###} > {gate.AnisotropyMax}). Hold the microscope still while capturing.");
        return weak ? Featureless(evidence) : (null, null);
    }

    private static (CaptureRejection?, string?) Featureless(string evidence) => (CaptureRejection.LowContrast,
        $"The capture shows too little fine texture to recognise ({evidence}): the spot is featureless or out of focus. Place the microscope flat on the material, check the lens is not covered, refocus, or capture a spot with visible grain.");

    private static (CaptureRejection?, string?) Dark(double mean, QualityGateLimits gate, string? evidence = null) => (CaptureRejection.Underexposed,
        $"The capture is too dark (mean brightness {mean:0.###}{(evidence is null ? $" < {gate.MeanMin}" : $"; {evidence}")}). Take the lens cap off, turn the microscope light on or up, or increase the exposure.");

    private static (CaptureRejection?, string?) Bright(double mean, QualityGateLimits gate, string? evidence = null) => (CaptureRejection.Overexposed,
        $"The capture is too bright (mean brightness {mean:0.###}{(evidence is null ? $" > {gate.MeanMax}" : $"; {evidence}")}). Lower the light or the exposure.");

    private static (CaptureRejection?, string?) Glare(double clipped, double limit, string? evidence = null) => (CaptureRejection.Clipped,
        $"{clipped:P1} of the pixels are pure black or white (limit {limit:P0}{(evidence is null ? "" : $"; {evidence}")}). Reduce glare: lower the light or tilt the item slightly.");

    /// <summary>Σv and Σv² in float64, and the count of pixels at or beyond the clipping levels.</summary>
    private static (double Sum, double SumSq, int Clipped) Moments(ReadOnlySpan<float> img)
    {
        const float low = 1f / 255f, high = 254f / 255f;
        var i = 0;
        var clipped = 0;
        var sum = Vector<double>.Zero;
        var sumSq = Vector<double>.Zero;
        var clippedLanes = Vector<int>.Zero;
        var lowV = new Vector<float>(low);
        var highV = new Vector<float>(high);
        for (; i <= img.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var v = new Vector<float>(img[i..]);
            Vector.Widen(v, out var lo, out var hi);
            sum += lo + hi;
            sumSq += lo * lo + hi * hi;
            // A true comparison lane is all ones (-1): subtracting counts it.
            clippedLanes -= Vector.BitwiseOr(Vector.LessThanOrEqual(v, lowV), Vector.GreaterThanOrEqual(v, highV));
        }
        double s = Vector.Sum(sum), sq = Vector.Sum(sumSq);
        clipped += Vector.Sum(clippedLanes);
        for (; i < img.Length; i++)
        {
            var v = img[i];
            s += v;
            sq += (double)v * v;
            if (v <= low || v >= high) clipped++;
        }
        return (s, sq, clipped);
    }

    /// <summary>Σ and Σ² of the 4-neighbour Laplacian over the interior; each Laplacian value in float32 like the reference.</summary>
    private static (double Sum, double SumSq) LaplacianMoments(ReadOnlySpan<float> img, int size)
    {
        var sum = Vector<double>.Zero;
        var sumSq = Vector<double>.Zero;
        double s = 0, sq = 0;
        var four = new Vector<float>(4f);
        var step = Vector<float>.Count;
        for (var y = 1; y < size - 1; y++)
        {
            var x = 1;
            for (; x <= size - 1 - step; x += step)
            {
                var i = y * size + x;
                var lap = new Vector<float>(img[(i - size)..]) + new Vector<float>(img[(i + size)..]) + new Vector<float>(img[(i - 1)..])
                    + new Vector<float>(img[(i + 1)..]) - four * new Vector<float>(img[i..]);
                Vector.Widen(lap, out var lo, out var hi);
                sum += lo + hi;
                sumSq += lo * lo + hi * hi;
            }
            for (; x < size - 1; x++)
            {
                var i = y * size + x;
                double lap = img[i - size] + img[i + size] + img[i - 1] + img[i + 1] - 4 * img[i];
                s += lap;
                sq += lap * lap;
            }
        }
        return (s + Vector.Sum(sum), sq + Vector.Sum(sumSq));
    }
}
