namespace Entrupy.Fingerprinting;

/// <summary>
/// Keypoints (spec 6.3), descriptors (6.4) and the VLAD global vector (section 5) from the model's maps. Mirrors
/// fpcore.keypoints/descriptors/vlad, including float64 sampling, so records match the Python reference.
/// </summary>
internal static class RecordBuilder
{
    /// <summary>Bucketed NMS peaks of the response map, bucket by bucket, strongest first. -> (y, x) map units.</summary>
    public static (byte[] Y, byte[] X) Keypoints(ReadOnlySpan<float> response, FingerprintConfig cfg)
    {
        int n = cfg.MapSize, r = cfg.NmsRadius, nb = cfg.Buckets;
        var border = cfg.DescriptorGrid / 2 * cfg.DescriptorSpacing + 2;
        var perBucket = cfg.MaxKeypoints / (nb * nb);
        var candidates = new List<(float V, int Y, int X)>[nb * nb];
        for (var b = 0; b < candidates.Length; b++) candidates[b] = [];
        for (var y = border; y < n - border; y++)
        {
            for (var x = border; x < n - border; x++)
            {
                var v = response[y * n + x];
                var isPeak = true;
                // Window never leaves the map here (border > radius), so the reference's -1 padding never matters.
                for (var dy = -r; dy <= r && isPeak; dy++)
                    for (var dx = -r; dx <= r; dx++)
                        if (response[(y + dy) * n + x + dx] > v) { isPeak = false; break; }
                if (isPeak) candidates[y * nb / n * nb + x * nb / n].Add((v, y, x));
            }
        }
        var ys = new List<byte>(cfg.MaxKeypoints);
        var xs = new List<byte>(cfg.MaxKeypoints);
        foreach (var bucket in candidates)
        {
            // Strongest first; ties by y then x (the reference's lexsort).
            bucket.Sort(static (a, b) => a.V != b.V ? b.V.CompareTo(a.V) : a.Y != b.Y ? a.Y.CompareTo(b.Y) : a.X.CompareTo(b.X));
            for (var i = 0; i < Math.Min(perBucket, bucket.Count); i++)
            {
                ys.Add((byte)bucket[i].Y);
                xs.Add((byte)bucket[i].X);
            }
        }
        return (ys.ToArray(), xs.ToArray());
    }

    /// <summary>
    /// RootSIFT descriptors sampled from cells [8, n, n] at the keypoints, steered by <paramref name="angleDeg"/>.
    /// Writes K rows of 128 into <paramref name="output"/>.
    /// </summary>
    public static void Descriptors(ReadOnlySpan<float> cells, byte[] kpY, byte[] kpX, double angleDeg, FingerprintConfig cfg, Span<float> output)
    {
        int n = cfg.MapSize, g = cfg.DescriptorGrid, nOr = cfg.Orientations, plane = n * n;
        var dim = cfg.DescriptorLength;
        var a = angleDeg * (Math.PI / 180.0);
        double ca = Math.Cos(a), sa = Math.Sin(a);
        var shift = angleDeg / (360.0 / nOr);
        var i0 = (int)Math.Floor(shift);
        var f = shift - i0;
        var limit = n - 1.001;
        Span<double> v = stackalloc double[nOr];
        Span<double> d = stackalloc double[dim];
        Span<double> acc = stackalloc double[8];
        for (var kp = 0; kp < kpY.Length; kp++)
        {
            for (var i = 0; i < g; i++)
            {
                var oy = (i - (g - 1) / 2.0) * cfg.DescriptorSpacing;
                for (var j = 0; j < g; j++)
                {
                    var ox = (j - (g - 1) / 2.0) * cfg.DescriptorSpacing;
                    var y = Math.Clamp(kpY[kp] + (sa * ox + ca * oy), 0, limit);
                    var x = Math.Clamp(kpX[kp] + (ca * ox - sa * oy), 0, limit);
                    int y0 = (int)Math.Floor(y), x0 = (int)Math.Floor(x);
                    double fy = y - y0, fx = x - x0;
                    var p00 = y0 * n + x0;
                    for (var c = 0; c < nOr; c++)
                    {
                        var ch = cells.Slice(c * plane, plane);
                        v[c] = ch[p00] * (1 - fy) * (1 - fx) + ch[p00 + n] * fy * (1 - fx)
                            + ch[p00 + 1] * (1 - fy) * fx + ch[p00 + n + 1] * fy * fx;
                    }
                    var baseIndex = (i * g + j) * nOr;
                    for (var c = 0; c < nOr; c++)
                    {
                        d[baseIndex + c] = angleDeg != 0
                            ? (1 - f) * v[Mod(c + i0, nOr)] + f * v[Mod(c + i0 + 1, nOr)]
                            : v[c];
                    }
                }
            }
            // numpy's pairwise sum for a 128-long row: 8 interleaved accumulators, combined as a tree.
            acc.Clear();
            for (var k = 0; k < dim; k++)
            {
                d[k] = Math.Max(d[k], 0);
                acc[k & 7] += d[k];
            }
            var sum = dim == 128
                ? ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
                : SumAll(d);
            var denominator = sum + 1e-9;
            var row = output.Slice(kp * dim, dim);
            for (var k = 0; k < dim; k++) row[k] = (float)Math.Sqrt(d[k] / denominator);
        }
    }

    /// <summary>VLAD of the upright descriptors: hard assignment, residual sums, signed sqrt, per-centre L2, minus mean, L2.</summary>
    public static float[] GlobalVector(ReadOnlySpan<float> descriptors, int count, float[] codebook, float[] mean, int dim)
    {
        var centres = codebook.Length / dim;
        var v = new double[centres * dim];
        var result = new float[centres * dim];
        if (count == 0) return result;
        for (var i = 0; i < count; i++)
        {
            var desc = descriptors.Slice(i * dim, dim);
            int best = 0;
            var bestDot = float.NegativeInfinity;
            for (var c = 0; c < centres; c++)
            {
                var dot = System.Numerics.Tensors.TensorPrimitives.Dot(desc, codebook.AsSpan(c * dim, dim));
                if (dot > bestDot) { bestDot = dot; best = c; }
            }
            for (var k = 0; k < dim; k++) v[best * dim + k] += desc[k] - codebook[best * dim + k];
        }
        for (var c = 0; c < centres; c++)
        {
            double norm = 0;
            for (var k = 0; k < dim; k++)
            {
                var x = v[c * dim + k];
                x = Math.Sign(x) * Math.Sqrt(Math.Abs(x));
                v[c * dim + k] = x;
                norm += x * x;
            }
            norm = Math.Sqrt(norm) + 1e-12;
            for (var k = 0; k < dim; k++) v[c * dim + k] /= norm;
        }
        double total = 0;
        for (var i = 0; i < v.Length; i++)
        {
            v[i] -= mean[i];
            total += v[i] * v[i];
        }
        total = Math.Sqrt(total) + 1e-12;
        for (var i = 0; i < v.Length; i++) result[i] = (float)(v[i] / total);
        return result;
    }

    private static int Mod(int a, int m) => ((a % m) + m) % m;

    private static double SumAll(ReadOnlySpan<double> values)
    {
        double s = 0;
        foreach (var x in values) s += x;
        return s;
    }
}
