namespace Entrupy.Fingerprinting;

/// <summary>
/// What the matcher could hold on to in a capture, measured on the detector's own response: the difference of
/// Gaussians (σ 1 and 1.6) of the 2×2-pooled image that the model's <c>response</c> map squares and the keypoints are
/// the peaks of. Its RMS in each of the 4×4 keypoint buckets says whether that region has texture the descriptors can
/// use or only sensor noise; its directionality says whether the fine detail was smeared in one direction (motion).
/// </summary>
/// <param name="DetectorEnergy">RMS of the detector response over the whole capture, in [0,1] gray units.</param>
/// <param name="StableKeypoints">Keypoints (the records' bucketed detector peaks) lying in covered buckets.</param>
/// <param name="CoveredBuckets">Buckets of the 4×4 keypoint grid whose detector RMS reaches the gate's limit.</param>
/// <param name="Anisotropy">1 − λ₂/λ₁ of the detector response's structure tensor: 0 = detail in every direction, 1 = one direction only.</param>
public sealed record CaptureEvidence(double DetectorEnergy, int StableKeypoints, int CoveredBuckets, double Anisotropy)
{
    /// <summary>The detector RMS of each bucket, row by row (the gate's calibration data).</summary>
    public IReadOnlyList<float> BucketEnergy { get; init; } = [];
}

/// <summary>Measures <see cref="CaptureEvidence"/> on a normalised capture.</summary>
internal static class EvidenceMeter
{
    // The detector's two Gaussians (fpcore CONFIG det_sigma1/det_sigma2). The gate measures its own copy of the
    // response so Assess (no model run) and extraction decide identically.
    private const double Sigma1 = 1.0, Sigma2 = 1.6;
    private static readonly float[] Kernel1 = Gaussian(Sigma1), Kernel2 = Gaussian(Sigma2);

    [ThreadStatic] private static float[]? pooled, blurred1, blurred2, temp, response;
    [ThreadStatic] private static KeypointScratch? scratch;
    [ThreadStatic] private static FingerprintConfig? scratchConfig;

    public static CaptureEvidence Measure(ReadOnlySpan<float> img, int size, FingerprintConfig cfg, QualityGateLimits gate)
    {
        var n = size / 2;
        var plane = n * n;
        if (pooled is null || pooled.Length < plane)
        {
            pooled = new float[plane]; blurred1 = new float[plane]; blurred2 = new float[plane]; temp = new float[plane]; response = new float[plane];
        }
        // The scratch depends only on the map size and the bucket grid; other configs (e.g. the default one that
        // CaptureNormalisation uses beside the engine's) reuse it.
        if (scratch is null || scratchConfig is null || scratchConfig.MapSize != cfg.MapSize || scratchConfig.Buckets != cfg.Buckets)
        {
            scratch = new KeypointScratch(cfg);
            scratchConfig = cfg;
        }
        var h = pooled.AsSpan(0, plane);
        for (var y = 0; y < n; y++)
            for (var x = 0; x < n; x++)
            {
                var i = 2 * y * size + 2 * x;
                h[y * n + x] = 0.25f * (img[i] + img[i + 1] + img[i + size] + img[i + size + 1]);
            }
        var b1 = blurred1!.AsSpan(0, plane);
        var d = blurred2!.AsSpan(0, plane);
        Blur(h, n, Kernel1, temp!, b1);
        Blur(h, n, Kernel2, temp!, d);
        var r = response!.AsSpan(0, plane);
        int nb = cfg.Buckets;
        var sums = new double[nb * nb];
        double total = 0;
        for (var y = 0; y < n; y++)
        {
            var bucketRow = y * nb / n * nb;
            for (var x = 0; x < n; x++)
            {
                var i = y * n + x;
                var v = b1[i] - d[i];
                d[i] = v;
                r[i] = v * v;
                sums[bucketRow + x * nb / n] += (double)v * v;
                total += (double)v * v;
            }
        }
        var energy = new float[nb * nb];
        var covered = new bool[nb * nb];
        var coveredCount = 0;
        for (var b = 0; b < energy.Length; b++)
        {
            // Every bucket spans the same number of pixels when n is a multiple of the grid (128 / 4).
            energy[b] = (float)Math.Sqrt(sums[b] / (plane / (double)energy.Length));
            covered[b] = energy[b] >= gate.BucketEnergyMin;
            if (covered[b]) coveredCount++;
        }
        var (ky, kx) = RecordBuilder.Keypoints(r, cfg, scratch);
        var stable = 0;
        for (var k = 0; k < ky.Length; k++)
            if (covered[ky[k] * nb / n * nb + kx[k] * nb / n]) stable++;
        return new CaptureEvidence(Math.Sqrt(total / plane), stable, coveredCount, Anisotropy(d, n)) { BucketEnergy = energy };
    }

    /// <summary>1 − λ₂/λ₁ of Σ ∇d ∇dᵀ (central differences of the detector response): fine detail smeared in one direction leaves one eigenvalue.</summary>
    private static double Anisotropy(ReadOnlySpan<float> b, int n)
    {
        double xx = 0, yy = 0, xy = 0;
        for (var y = 1; y < n - 1; y++)
            for (var x = 1; x < n - 1; x++)
            {
                var i = y * n + x;
                double gx = b[i + 1] - b[i - 1], gy = b[i + n] - b[i - n];
                xx += gx * gx; yy += gy * gy; xy += gx * gy;
            }
        var trace = xx + yy;
        if (trace <= 0) return 0;
        var root = Math.Sqrt((xx - yy) * (xx - yy) + 4 * xy * xy);
        double l1 = (trace + root) / 2, l2 = (trace - root) / 2;
        return 1 - Math.Max(l2, 0) / l1;
    }

    private static float[] Gaussian(double sigma)
    {
        var radius = (int)Math.Ceiling(3 * sigma);
        var k = new double[2 * radius + 1];
        for (var i = -radius; i <= radius; i++) k[i + radius] = Math.Exp(-0.5 * (i / sigma) * (i / sigma));
        var s = k.Sum();
        return k.Select(v => (float)(v / s)).ToArray();
    }

    /// <summary>
    /// Separable Gaussian with mirror (reflect) padding: a vertical pass, a transpose, a vertical pass and a transpose
    /// back, so both passes run over contiguous rows (vectorised) instead of strided taps.
    /// </summary>
    private static void Blur(ReadOnlySpan<float> src, int n, float[] k, float[] tmp, Span<float> dst)
    {
        Vertical(src, n, k, dst);
        Transpose(dst, n, tmp);
        Vertical(tmp, n, k, dst);
        Transpose(dst, n, tmp);
        tmp.AsSpan(0, n * n).CopyTo(dst);
    }

    private static void Vertical(ReadOnlySpan<float> src, int n, float[] k, Span<float> dst)
    {
        var r = k.Length / 2;
        for (var y = 0; y < n; y++)
        {
            var outRow = dst.Slice(y * n, n);
            outRow.Clear();
            for (var t = -r; t <= r; t++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(src.Slice(Reflect(y + t, n) * n, n), k[t + r], outRow, outRow);
        }
    }

    private static void Transpose(ReadOnlySpan<float> src, int n, Span<float> dst)
    {
        const int tile = 32;
        for (var y0 = 0; y0 < n; y0 += tile)
            for (var x0 = 0; x0 < n; x0 += tile)
                for (var y = y0; y < Math.Min(n, y0 + tile); y++)
                    for (var x = x0; x < Math.Min(n, x0 + tile); x++)
                        dst[x * n + y] = src[y * n + x];
    }

    private static int Reflect(int i, int n) => i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}
