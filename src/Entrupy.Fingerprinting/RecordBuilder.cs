using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Entrupy.Fingerprinting;

/// <summary>
/// Keypoints (spec 6.3), descriptors (6.4) and the VLAD global vector (section 5) from the model's maps. Mirrors
/// fpcore.keypoints/descriptors/vlad, including float64 sampling, so records match the Python reference.
/// </summary>
internal static class RecordBuilder
{
    /// <summary>Bucketed NMS peaks of the response map, bucket by bucket, strongest first. -> (y, x) map units.</summary>
    public static (byte[] Y, byte[] X) Keypoints(ReadOnlySpan<float> response, FingerprintConfig cfg, KeypointScratch scratch)
    {
        int n = cfg.MapSize, r = cfg.NmsRadius, nb = cfg.Buckets;
        var border = cfg.DescriptorGrid / 2 * cfg.DescriptorSpacing + 2;
        var perBucket = cfg.MaxKeypoints / (nb * nb);
        response = response[..(n * n)];
        var counts = scratch.Counts;
        counts.Clear();
        if (n - 2 * border <= 0) return ([], []);
        // Window never leaves the map here (border > radius), so the reference's -1 padding never matters.
        // A peak is a value no neighbour exceeds, i.e. one equal to its window's maximum: a separable max filter
        // (rows, then columns) finds the same peaks as comparing all (2r+1)² neighbours.
        var rowMax = scratch.RowMax;
        int x0 = border, x1 = n - border, width = x1 - x0;
        for (var y = border - r; y < n - border + r; y++)
            MaxOfWindow(response.Slice(y * n + x0 - r, width + 2 * r), r, rowMax.Slice(y * n + x0, width));
        var columnMax = scratch.ColumnMax[..width];
        for (var y = border; y < n - border; y++)
        {
            ColumnMaxOfWindow(rowMax, n, y, r, x0, columnMax);
            var row = response.Slice(y * n + x0, width);
            var bucketRow = y * nb / n * nb;
            for (var i = 0; i < width; i++)
            {
                var v = row[i];
                if (v < columnMax[i]) continue;
                var x = x0 + i;
                var bucket = bucketRow + x * nb / n;
                scratch.Bucket(bucket)[counts[bucket]++] = new KeypointCandidate(v, y, x);
            }
        }
        var total = 0;
        for (var b = 0; b < nb * nb; b++) total += Math.Min(perBucket, counts[b]);
        var ys = new byte[total];
        var xs = new byte[total];
        var k = 0;
        for (var b = 0; b < nb * nb; b++)
        {
            var bucket = scratch.Bucket(b)[..counts[b]];
            // Strongest first; ties by y then x (the reference's lexsort).
            bucket.Sort(default(StrongestFirst));
            foreach (var c in bucket[..Math.Min(perBucket, bucket.Length)])
            {
                ys[k] = (byte)c.Y;
                xs[k] = (byte)c.X;
                k++;
            }
        }
        return (ys, xs);
    }

    /// <summary>destination[i] = max(source[i .. i + 2r]).</summary>
    private static void MaxOfWindow(ReadOnlySpan<float> source, int r, Span<float> destination)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= destination.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var m = new Vector<float>(source[i..]);
                for (var d = 1; d <= 2 * r; d++) m = Vector.Max(m, new Vector<float>(source[(i + d)..]));
                m.CopyTo(destination[i..]);
            }
        }
        for (; i < destination.Length; i++)
        {
            var m = source[i];
            for (var d = 1; d <= 2 * r; d++) m = Math.Max(m, source[i + d]);
            destination[i] = m;
        }
    }

    /// <summary>destination[i] = max over rows y - r .. y + r of rowMax[row, x0 + i].</summary>
    private static void ColumnMaxOfWindow(ReadOnlySpan<float> rowMax, int n, int y, int r, int x0, Span<float> destination)
    {
        rowMax.Slice((y - r) * n + x0, destination.Length).CopyTo(destination);
        for (var dy = -r + 1; dy <= r; dy++)
        {
            var source = rowMax.Slice((y + dy) * n + x0, destination.Length);
            var i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                for (; i <= destination.Length - Vector<float>.Count; i += Vector<float>.Count)
                    Vector.Max(new Vector<float>(destination[i..]), new Vector<float>(source[i..])).CopyTo(destination[i..]);
            }
            for (; i < destination.Length; i++) destination[i] = Math.Max(destination[i], source[i]);
        }
    }

    private readonly struct StrongestFirst : IComparer<KeypointCandidate>
    {
        public int Compare(KeypointCandidate a, KeypointCandidate b) =>
            a.V != b.V ? b.V.CompareTo(a.V) : a.Y != b.Y ? a.Y.CompareTo(b.Y) : a.X.CompareTo(b.X);
    }

    /// <summary>
    /// RootSIFT descriptors sampled from cells [8, n, n] at the keypoints, steered by <paramref name="angleDeg"/>.
    /// Writes K rows of 128 into <paramref name="output"/>.
    /// </summary>
    public static void Descriptors(ReadOnlySpan<float> cells, byte[] kpY, byte[] kpX, double angleDeg, FingerprintConfig cfg, Span<float> output)
    {
        int n = cfg.MapSize, g = cfg.DescriptorGrid, nOr = cfg.Orientations, plane = n * n;
        var dim = cfg.DescriptorLength;
        cells = cells[..(nOr * plane)];
        var a = angleDeg * (Math.PI / 180.0);
        double ca = Math.Cos(a), sa = Math.Sin(a);
        var shift = angleDeg / (360.0 / nOr);
        var i0 = (int)Math.Floor(shift);
        var f = shift - i0;
        var limit = n - 1.001;
        // Offsets of the g×g sample grid, rotated; the same expressions the reference evaluates per keypoint.
        Span<double> offsetY = stackalloc double[g * g];
        Span<double> offsetX = stackalloc double[g * g];
        for (var i = 0; i < g; i++)
        {
            var oy = (i - (g - 1) / 2.0) * cfg.DescriptorSpacing;
            for (var j = 0; j < g; j++)
            {
                var ox = (j - (g - 1) / 2.0) * cfg.DescriptorSpacing;
                offsetY[i * g + j] = sa * ox + ca * oy;
                offsetX[i * g + j] = ca * ox - sa * oy;
            }
        }
        Span<int> from = stackalloc int[nOr];
        Span<int> to = stackalloc int[nOr];
        for (var c = 0; c < nOr; c++)
        {
            from[c] = Mod(c + i0, nOr);
            to[c] = Mod(c + i0 + 1, nOr);
        }
        var steered = angleDeg != 0;
        Span<double> v = stackalloc double[nOr];
        Span<double> d = stackalloc double[dim];
        ref var cellsStart = ref MemoryMarshal.GetReference(cells);
        for (var kp = 0; kp < kpY.Length; kp++)
        {
            for (var cell = 0; cell < g * g; cell++)
            {
                var y = Math.Clamp(kpY[kp] + offsetY[cell], 0, limit);
                var x = Math.Clamp(kpX[kp] + offsetX[cell], 0, limit);
                int y0 = (int)Math.Floor(y), x0 = (int)Math.Floor(x);
                double fy = y - y0, fx = x - x0;
                // Clamped to [0, n - 1.001], so all four corners lie inside every channel plane.
                ref var p00 = ref Unsafe.Add(ref cellsStart, y0 * n + x0);
                var baseIndex = cell * nOr;
                var target = steered ? v : d.Slice(baseIndex, nOr);
                if (fy == 0 && fx == 0)
                {
                    // On a map pixel (every upright sample: integer keypoints, integer offsets) the bilinear sum is
                    // v·1·1 + 0 + 0 + 0, i.e. exactly v; skip the three other corners' cache lines.
                    for (var c = 0; c < nOr; c++) target[c] = Unsafe.Add(ref p00, c * plane);
                }
                else
                {
                    for (var c = 0; c < nOr; c++)
                    {
                        ref var ch = ref Unsafe.Add(ref p00, c * plane);
                        target[c] = ch * (1 - fy) * (1 - fx) + Unsafe.Add(ref ch, n) * fy * (1 - fx)
                            + Unsafe.Add(ref ch, 1) * (1 - fy) * fx + Unsafe.Add(ref ch, n + 1) * fy * fx;
                    }
                }
                if (steered)
                    for (var c = 0; c < nOr; c++) d[baseIndex + c] = (1 - f) * v[from[c]] + f * v[to[c]];
            }
            RootSift(d, output.Slice(kp * dim, dim));
        }
    }

    /// <summary>Clamp at 0, divide by the sum (+1e-9), square root: the row in float32.</summary>
    private static void RootSift(Span<double> d, Span<float> row)
    {
        var dim = d.Length;
        double sum;
        if (dim == 128 && Vector256.IsHardwareAccelerated)
        {
            // numpy's pairwise sum of a 128-long row: 8 interleaved accumulators (lanes k & 7) combined as a tree.
            var accLow = Vector256<double>.Zero;
            var accHigh = Vector256<double>.Zero;
            for (var k = 0; k < dim; k += 8)
            {
                var low = Vector256.Max(Vector256.Create<double>(d[k..]), Vector256<double>.Zero);
                var high = Vector256.Max(Vector256.Create<double>(d[(k + 4)..]), Vector256<double>.Zero);
                low.CopyTo(d[k..]);
                high.CopyTo(d[(k + 4)..]);
                accLow += low;
                accHigh += high;
            }
            sum = ((accLow[0] + accLow[1]) + (accLow[2] + accLow[3])) + ((accHigh[0] + accHigh[1]) + (accHigh[2] + accHigh[3]));
            var denominator = Vector256.Create(sum + 1e-9);
            for (var k = 0; k < dim; k += 8)
            {
                var low = Vector256.Sqrt(Vector256.Create<double>(d[k..]) / denominator);
                var high = Vector256.Sqrt(Vector256.Create<double>(d[(k + 4)..]) / denominator);
                Vector256.Narrow(low, high).CopyTo(row[k..]);
            }
            return;
        }
        Span<double> acc = stackalloc double[8];
        for (var k = 0; k < dim; k++)
        {
            d[k] = Math.Max(d[k], 0);
            acc[k & 7] += d[k];
        }
        sum = dim == 128
            ? ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
            : SumAll(d);
        var den = sum + 1e-9;
        for (var k = 0; k < dim; k++) row[k] = (float)Math.Sqrt(d[k] / den);
    }

    /// <summary>VLAD of the upright descriptors: hard assignment, residual sums, signed sqrt, per-centre L2, minus mean, L2.</summary>
    public static float[] GlobalVector(ReadOnlySpan<float> descriptors, int count, float[] codebook, float[] mean, int dim, double[]? scratch = null)
    {
        var centres = codebook.Length / dim;
        var v = scratch is not null && scratch.Length >= centres * dim ? scratch.AsSpan(0, centres * dim) : new double[centres * dim];
        v.Clear();
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
            AddResidual(v.Slice(best * dim, dim), desc, codebook.AsSpan(best * dim, dim));
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

    /// <summary>sum[k] += desc[k] - centre[k], the difference in float32 (as the reference) then accumulated in float64.</summary>
    private static void AddResidual(Span<double> sum, ReadOnlySpan<float> desc, ReadOnlySpan<float> centre)
    {
        var k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var half = Vector<double>.Count;
            for (; k <= sum.Length - Vector<float>.Count; k += Vector<float>.Count)
            {
                Vector.Widen(new Vector<float>(desc[k..]) - new Vector<float>(centre[k..]), out var lo, out var hi);
                (new Vector<double>(sum[k..]) + lo).CopyTo(sum[k..]);
                (new Vector<double>(sum[(k + half)..]) + hi).CopyTo(sum[(k + half)..]);
            }
        }
        for (; k < sum.Length; k++) sum[k] += desc[k] - centre[k];
    }

    private static int Mod(int a, int m) => ((a % m) + m) % m;

    private static double SumAll(ReadOnlySpan<double> values)
    {
        double s = 0;
        foreach (var x in values) s += x;
        return s;
    }
}

/// <summary>A response-map peak: its value and map position.</summary>
internal readonly record struct KeypointCandidate(float V, int Y, int X);

/// <summary>Reusable buffers of <see cref="RecordBuilder.Keypoints"/>: the row-max map and per-bucket peak lists.</summary>
internal sealed class KeypointScratch
{
    private readonly KeypointCandidate[] candidates;
    private readonly int bucketCapacity;
    private readonly float[] rowMax;
    private readonly float[] columnMax;
    private readonly int[] counts;

    public KeypointScratch(FingerprintConfig cfg)
    {
        var n = cfg.MapSize;
        rowMax = new float[n * n];
        columnMax = new float[n];
        counts = new int[cfg.Buckets * cfg.Buckets];
        // A bucket spans at most ceil(n / buckets) rows and columns.
        var side = (n + cfg.Buckets - 1) / cfg.Buckets;
        bucketCapacity = side * side;
        candidates = new KeypointCandidate[counts.Length * bucketCapacity];
    }

    /// <summary>Max of each row window, [n × n] (only the rows and columns in use are written).</summary>
    public Span<float> RowMax => rowMax;

    /// <summary>Max of each column window for one row.</summary>
    public Span<float> ColumnMax => columnMax;

    /// <summary>Peaks found per bucket.</summary>
    public Span<int> Counts => counts;

    /// <summary>Storage for the peaks of bucket <paramref name="bucket"/>.</summary>
    public Span<KeypointCandidate> Bucket(int bucket) => candidates.AsSpan(bucket * bucketCapacity, bucketCapacity);
}
