using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Entrupy.Fingerprinting;

/// <summary>
/// Mutual-nearest-neighbour search over all probe × enrolled descriptor similarities without storing the similarity
/// matrix: a register-blocked integer micro-kernel (signed 7-bit probe codes × unsigned 8-bit enrolled codes, see
/// <see cref="DescriptorCodes"/>) that turns each block's exact dot products into similarities with the probe row's
/// factor and tracks each row's and each column's maximum and first arg-max as it goes.
/// </summary>
/// <remarks>
/// Variants: AVX-VNNI (<c>vpdpbusd</c>: 32 multiply-adds per instruction, twice an AVX-512 float FMA's 16, on a
/// quarter of the bytes), AVX2 (<c>vpmaddwd</c> on widened codes) and scalar. Integer sums are exact and the
/// conversion to a similarity is the same float multiply in each, so all three give bit-identical results.
/// </remarks>
internal static class SimilarityKernel
{
    private const int Dim = Fingerprint.DescriptorLength;
    private const int Groups = DescriptorCodes.Groups;
    private const int RowBlock = 4;

    /// <param name="probe">Probe codes, row-major [rows × 128], rows padded to a multiple of 4 with zero rows.</param>
    /// <param name="probeScale">Per probe row: integer dot product → similarity.</param>
    /// <param name="probeCount">Real probe rows.</param>
    /// <param name="enrolled">Enrolled codes in the interleaved layout of <see cref="DescriptorCodes"/>.</param>
    /// <param name="enrolledPadded">Padded enrolled row count (multiple of 32).</param>
    /// <param name="rowArg">Per probe row: first column of the row maximum.</param>
    /// <param name="rowMax">Per probe row: the maximum similarity.</param>
    /// <param name="colArg">Per enrolled column (padded length): first row of the column maximum.</param>
    public static void Run(sbyte[] probe, float[] probeScale, int probeCount, byte[] enrolled, int enrolledPadded,
        Span<int> rowArg, Span<float> rowMax, Span<int> colArg)
    {
        Span<float> colMax = stackalloc float[enrolledPadded];
        colMax.Fill(float.NegativeInfinity);
        colArg[..enrolledPadded].Clear();
        if (AvxVnni.IsSupported)
            RunVnni(probe, probeScale, probeCount, enrolled, enrolledPadded, rowArg, rowMax, colArg, colMax);
        else if (Avx2.IsSupported)
            RunAvx2(probe, probeScale, probeCount, enrolled, enrolledPadded, rowArg, rowMax, colArg, colMax);
        else
            RunScalar(probe, probeScale, probeCount, enrolled, enrolledPadded, rowArg, rowMax, colArg, colMax);
    }

    internal static unsafe void RunVnni(sbyte[] probe, float[] probeScale, int probeCount, byte[] enrolled, int ePad,
        Span<int> rowArg, Span<float> rowMax, Span<int> colArg, Span<float> colMax)
    {
        // 4 probe rows × 16 enrolled columns: 8 accumulators, 2 column loads + 4 broadcasts per 8 vpdpbusd (VEX
        // encoding: 16 ymm registers in all).
        const int W = 8;
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var rowMaxV = stackalloc Vector256<float>[RowBlock];
        var rowArgV = stackalloc Vector256<int>[RowBlock];
        fixed (sbyte* p = probe)
        fixed (byte* e = enrolled)
        fixed (float* cm = colMax)
        fixed (int* ca = colArg)
        {
            for (var i0 = 0; i0 < probeCount; i0 += RowBlock)
            {
                for (var r = 0; r < RowBlock; r++) { rowMaxV[r] = Vector256.Create(float.NegativeInfinity); rowArgV[r] = Vector256<int>.Zero; }
                var p0 = (int*)(p + i0 * Dim);
                int* p1 = p0 + Groups, p2 = p1 + Groups, p3 = p2 + Groups;
                var rows = Math.Min(RowBlock, probeCount - i0);
                var scale0 = Vector256.Create(probeScale[i0]);
                var scale1 = Vector256.Create(probeScale[i0 + 1]);
                var scale2 = Vector256.Create(probeScale[i0 + 2]);
                var scale3 = Vector256.Create(probeScale[i0 + 3]);
                for (var j0 = 0; j0 < ePad; j0 += 2 * W)
                {
                    Vector256<int> a00 = default, a01 = default, a10 = default, a11 = default,
                        a20 = default, a21 = default, a30 = default, a31 = default;
                    var ep = e + j0 * DescriptorCodes.GroupWidth;
                    for (var g = 0; g < Groups; g++, ep += ePad * DescriptorCodes.GroupWidth)
                    {
                        var e0 = Vector256.Load(ep);
                        var e1 = Vector256.Load(ep + 32);
                        var b = Vector256.Create(p0[g]).AsSByte(); a00 = AvxVnni.MultiplyWideningAndAdd(a00, e0, b); a01 = AvxVnni.MultiplyWideningAndAdd(a01, e1, b);
                        b = Vector256.Create(p1[g]).AsSByte(); a10 = AvxVnni.MultiplyWideningAndAdd(a10, e0, b); a11 = AvxVnni.MultiplyWideningAndAdd(a11, e1, b);
                        b = Vector256.Create(p2[g]).AsSByte(); a20 = AvxVnni.MultiplyWideningAndAdd(a20, e0, b); a21 = AvxVnni.MultiplyWideningAndAdd(a21, e1, b);
                        b = Vector256.Create(p3[g]).AsSByte(); a30 = AvxVnni.MultiplyWideningAndAdd(a30, e0, b); a31 = AvxVnni.MultiplyWideningAndAdd(a31, e1, b);
                    }
                    var idx0 = lane + Vector256.Create(j0);
                    var idx1 = idx0 + Vector256.Create(W);
                    // Rows in ascending order with strict '>' keep the first arg-max, as numpy's argmax does.
                    Update(0, i0, Similarity(a00, scale0), idx0, cm + j0, ca + j0, rowMaxV, rowArgV);
                    Update(0, i0, Similarity(a01, scale0), idx1, cm + j0 + W, ca + j0 + W, rowMaxV, rowArgV);
                    if (rows > 1)
                    {
                        Update(1, i0, Similarity(a10, scale1), idx0, cm + j0, ca + j0, rowMaxV, rowArgV);
                        Update(1, i0, Similarity(a11, scale1), idx1, cm + j0 + W, ca + j0 + W, rowMaxV, rowArgV);
                    }
                    if (rows > 2)
                    {
                        Update(2, i0, Similarity(a20, scale2), idx0, cm + j0, ca + j0, rowMaxV, rowArgV);
                        Update(2, i0, Similarity(a21, scale2), idx1, cm + j0 + W, ca + j0 + W, rowMaxV, rowArgV);
                    }
                    if (rows > 3)
                    {
                        Update(3, i0, Similarity(a30, scale3), idx0, cm + j0, ca + j0, rowMaxV, rowArgV);
                        Update(3, i0, Similarity(a31, scale3), idx1, cm + j0 + W, ca + j0 + W, rowMaxV, rowArgV);
                    }
                }
                for (var r = 0; r < rows; r++)
                    (rowMax[i0 + r], rowArg[i0 + r]) = Reduce(rowMaxV[r], rowArgV[r]);
            }
        }
    }

    internal static unsafe void RunAvx2(sbyte[] probe, float[] probeScale, int probeCount, byte[] enrolled, int ePad,
        Span<int> rowArg, Span<float> rowMax, Span<int> colArg, Span<float> colMax)
    {
        // 4 probe rows × 8 enrolled columns. A group's 32 bytes (4 dimensions of 8 columns) widen to two vectors of
        // 16-bit codes; vpmaddwd with the row's 4 codes (widened, repeated) gives per column two partial sums, which
        // one horizontal add per block joins.
        const int W = 8;
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var rowMaxV = stackalloc Vector256<float>[RowBlock];
        var rowArgV = stackalloc Vector256<int>[RowBlock];
        var widened = stackalloc short[RowBlock * Dim]; // the row block's probe codes as 16-bit
        fixed (sbyte* p = probe)
        fixed (byte* e = enrolled)
        fixed (float* cm = colMax)
        fixed (int* ca = colArg)
        {
            for (var i0 = 0; i0 < probeCount; i0 += RowBlock)
            {
                for (var r = 0; r < RowBlock; r++) { rowMaxV[r] = Vector256.Create(float.NegativeInfinity); rowArgV[r] = Vector256<int>.Zero; }
                for (var i = 0; i < RowBlock * Dim; i++) widened[i] = p[i0 * Dim + i];
                var w = (long*)widened; // one 64-bit broadcast = a group's 4 codes of one row
                var rows = Math.Min(RowBlock, probeCount - i0);
                for (var j0 = 0; j0 < ePad; j0 += W)
                {
                    Vector256<int> a0l = default, a0h = default, a1l = default, a1h = default,
                        a2l = default, a2h = default, a3l = default, a3h = default;
                    var ep = e + j0 * DescriptorCodes.GroupWidth;
                    for (var g = 0; g < Groups; g++, ep += ePad * DescriptorCodes.GroupWidth)
                    {
                        var lo = Avx2.ConvertToVector256Int16(ep);      // columns 0-3
                        var hi = Avx2.ConvertToVector256Int16(ep + 16); // columns 4-7
                        var b = Vector256.Create(w[g]).AsInt16(); a0l += Avx2.MultiplyAddAdjacent(lo, b); a0h += Avx2.MultiplyAddAdjacent(hi, b);
                        b = Vector256.Create(w[Groups + g]).AsInt16(); a1l += Avx2.MultiplyAddAdjacent(lo, b); a1h += Avx2.MultiplyAddAdjacent(hi, b);
                        b = Vector256.Create(w[2 * Groups + g]).AsInt16(); a2l += Avx2.MultiplyAddAdjacent(lo, b); a2h += Avx2.MultiplyAddAdjacent(hi, b);
                        b = Vector256.Create(w[3 * Groups + g]).AsInt16(); a3l += Avx2.MultiplyAddAdjacent(lo, b); a3h += Avx2.MultiplyAddAdjacent(hi, b);
                    }
                    var idx = lane + Vector256.Create(j0);
                    Update(0, i0, Similarity(JoinPairs(a0l, a0h), Vector256.Create(probeScale[i0])), idx, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 1) Update(1, i0, Similarity(JoinPairs(a1l, a1h), Vector256.Create(probeScale[i0 + 1])), idx, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 2) Update(2, i0, Similarity(JoinPairs(a2l, a2h), Vector256.Create(probeScale[i0 + 2])), idx, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 3) Update(3, i0, Similarity(JoinPairs(a3l, a3h), Vector256.Create(probeScale[i0 + 3])), idx, cm + j0, ca + j0, rowMaxV, rowArgV);
                }
                for (var r = 0; r < rows; r++)
                    (rowMax[i0 + r], rowArg[i0 + r]) = Reduce(rowMaxV[r], rowArgV[r]);
            }
        }
    }

    /// <summary>
    /// Per-column sums from two vectors of pair sums (columns 0-3 and 4-7, two lanes each): the in-lane horizontal add
    /// leaves the columns in order 0,1,4,5 | 2,3,6,7; swapping the middle 64-bit quarters restores 0-7.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> JoinPairs(Vector256<int> low, Vector256<int> high) =>
        Avx2.Permute4x64(Avx2.HorizontalAdd(low, high).AsInt64(), 0b11_01_10_00).AsInt32();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Similarity(Vector256<int> dot, Vector256<float> scale) => Vector256.ConvertToSingle(dot) * scale;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Update(int r, int i0, Vector256<float> s, Vector256<int> idx, float* colMax, int* colArg,
        Vector256<float>* rowMaxV, Vector256<int>* rowArgV)
    {
        var m = Vector256.GreaterThan(s, rowMaxV[r]);
        rowMaxV[r] = Vector256.ConditionalSelect(m, s, rowMaxV[r]);
        rowArgV[r] = Vector256.ConditionalSelect(m.AsInt32(), idx, rowArgV[r]);
        var c = Vector256.Load(colMax);
        var n = Vector256.GreaterThan(s, c);
        Vector256.ConditionalSelect(n, s, c).Store(colMax);
        Vector256.ConditionalSelect(n.AsInt32(), Vector256.Create(i0 + r), Vector256.Load(colArg)).Store(colArg);
    }

    internal static void RunScalar(sbyte[] probe, float[] probeScale, int probeCount, byte[] enrolled, int ePad,
        Span<int> rowArg, Span<float> rowMax, Span<int> colArg, Span<float> colMax)
    {
        for (var i = 0; i < probeCount; i++)
        {
            var best = float.NegativeInfinity;
            var bestJ = 0;
            for (var j = 0; j < ePad; j++)
            {
                var dot = 0;
                for (var k = 0; k < Dim; k++)
                    dot += probe[i * Dim + k] * enrolled[DescriptorCodes.EnrolledOffset(ePad, j, k / DescriptorCodes.GroupWidth) + k % DescriptorCodes.GroupWidth];
                var s = dot * probeScale[i];
                if (s > best) { best = s; bestJ = j; }
                if (s > colMax[j]) { colMax[j] = s; colArg[j] = i; }
            }
            rowMax[i] = best;
            rowArg[i] = bestJ;
        }
    }

    /// <summary>Lane maximum; among equal maxima the smallest column index (first arg-max).</summary>
    private static (float Max, int Arg) Reduce(Vector256<float> max, Vector256<int> arg)
    {
        // Butterfly: after three steps every lane holds the maximum; then the smallest index among the lanes holding it.
        var halves = Vector256.Create(4, 5, 6, 7, 0, 1, 2, 3);
        var pairs = Vector256.Create(2, 3, 0, 1, 6, 7, 4, 5);
        var neighbours = Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6);
        var m = Vector256.Max(max, Vector256.Shuffle(max, halves));
        m = Vector256.Max(m, Vector256.Shuffle(m, pairs));
        m = Vector256.Max(m, Vector256.Shuffle(m, neighbours));
        var a = Vector256.ConditionalSelect(Vector256.Equals(max, m).AsInt32(), arg, Vector256.Create(int.MaxValue));
        a = Vector256.Min(a, Vector256.Shuffle(a, halves));
        a = Vector256.Min(a, Vector256.Shuffle(a, pairs));
        a = Vector256.Min(a, Vector256.Shuffle(a, neighbours));
        return (m.ToScalar(), a.ToScalar());
    }
}
