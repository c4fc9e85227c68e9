using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Entrupy.Fingerprinting;

/// <summary>
/// Mutual-nearest-neighbour search over all probe × enrolled descriptor dot products without storing the
/// similarity matrix: a register-blocked SIMD micro-kernel (4 probe rows × 16 or 32 enrolled columns, FMA) that
/// tracks each row's and each column's maximum and first arg-max as it goes.
/// </summary>
internal static class SimilarityKernel
{
    private const int Dim = Fingerprint.DescriptorLength;
    private const int RowBlock = 4;

    /// <param name="probe">Probe descriptors, row-major [paddedRows × 128] (zero rows after probeCount).</param>
    /// <param name="probeCount">Real probe rows.</param>
    /// <param name="enrolledT">Enrolled descriptors transposed [128 × enrolledPadded].</param>
    /// <param name="enrolledPadded">Padded enrolled row count (multiple of 32).</param>
    /// <param name="rowArg">Per probe row: first column of the row maximum.</param>
    /// <param name="rowMax">Per probe row: the maximum.</param>
    /// <param name="colArg">Per enrolled column (padded length): first row of the column maximum.</param>
    public static void Run(float[] probe, int probeCount, float[] enrolledT, int enrolledPadded,
        Span<int> rowArg, Span<float> rowMax, Span<int> colArg)
    {
        Span<float> colMax = stackalloc float[enrolledPadded];
        colMax.Fill(float.NegativeInfinity);
        colArg[..enrolledPadded].Clear();
        if (Vector512.IsHardwareAccelerated)
            Run512(probe, probeCount, enrolledT, enrolledPadded, rowArg, rowMax, colArg, colMax);
        else if (Vector256.IsHardwareAccelerated)
            Run256(probe, probeCount, enrolledT, enrolledPadded, rowArg, rowMax, colArg, colMax);
        else
            RunScalar(probe, probeCount, enrolledT, enrolledPadded, rowArg, rowMax, colArg, colMax);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fma512(Vector512<float> a, Vector512<float> b, Vector512<float> c) =>
        Avx512F.IsSupported ? Avx512F.FusedMultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma256(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

    internal static unsafe void Run512(float[] probe, int probeCount, float[] enrolledT, int ePad,
        Span<int> rowArg, Span<float> rowMax, Span<int> colArg, Span<float> colMax)
    {
        // 8 probe rows x 32 enrolled columns: 16 zmm accumulators, 2 column loads + 8 broadcasts per 16 FMAs.
        const int W = 16, Rows = 8;
        var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var rowMaxV = stackalloc Vector512<float>[Rows];
        var rowArgV = stackalloc Vector512<int>[Rows];
        fixed (float* p = probe)
        fixed (float* e = enrolledT)
        fixed (float* cm = colMax)
        fixed (int* ca = colArg)
        {
            for (var i0 = 0; i0 < probeCount; i0 += Rows)
            {
                for (var r = 0; r < Rows; r++) { rowMaxV[r] = Vector512.Create(float.NegativeInfinity); rowArgV[r] = Vector512<int>.Zero; }
                var p0 = p + i0 * Dim;
                var rows = Math.Min(Rows, probeCount - i0);
                for (var j0 = 0; j0 < ePad; j0 += 2 * W)
                {
                    Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default,
                        a20 = default, a21 = default, a30 = default, a31 = default,
                        a40 = default, a41 = default, a50 = default, a51 = default,
                        a60 = default, a61 = default, a70 = default, a71 = default;
                    var ep = e + j0;
                    for (var k = 0; k < Dim; k++, ep += ePad)
                    {
                        var e0 = Vector512.Load(ep);
                        var e1 = Vector512.Load(ep + W);
                        var pk = p0 + k;
                        var b = Vector512.Create(pk[0]); a00 = Fma512(b, e0, a00); a01 = Fma512(b, e1, a01);
                        b = Vector512.Create(pk[Dim]); a10 = Fma512(b, e0, a10); a11 = Fma512(b, e1, a11);
                        b = Vector512.Create(pk[2 * Dim]); a20 = Fma512(b, e0, a20); a21 = Fma512(b, e1, a21);
                        b = Vector512.Create(pk[3 * Dim]); a30 = Fma512(b, e0, a30); a31 = Fma512(b, e1, a31);
                        b = Vector512.Create(pk[4 * Dim]); a40 = Fma512(b, e0, a40); a41 = Fma512(b, e1, a41);
                        b = Vector512.Create(pk[5 * Dim]); a50 = Fma512(b, e0, a50); a51 = Fma512(b, e1, a51);
                        b = Vector512.Create(pk[6 * Dim]); a60 = Fma512(b, e0, a60); a61 = Fma512(b, e1, a61);
                        b = Vector512.Create(pk[7 * Dim]); a70 = Fma512(b, e0, a70); a71 = Fma512(b, e1, a71);
                    }
                    var idx0 = lane + Vector512.Create(j0);
                    var idx1 = idx0 + Vector512.Create(W);
                    // Rows in ascending order with strict '>' keep the first arg-max, as numpy's argmax does.
                    Update512(0, i0, a00, a01, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 1) Update512(1, i0, a10, a11, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 2) Update512(2, i0, a20, a21, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 3) Update512(3, i0, a30, a31, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 4) Update512(4, i0, a40, a41, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 5) Update512(5, i0, a50, a51, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 6) Update512(6, i0, a60, a61, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 7) Update512(7, i0, a70, a71, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                }
                for (var r = 0; r < rows; r++)
                    (rowMax[i0 + r], rowArg[i0 + r]) = Reduce(rowMaxV[r], rowArgV[r]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Update512(int r, int i0, Vector512<float> s0, Vector512<float> s1, Vector512<int> idx0, Vector512<int> idx1,
        float* colMax, int* colArg, Vector512<float>* rowMaxV, Vector512<int>* rowArgV)
    {
        var m0 = Vector512.GreaterThan(s0, rowMaxV[r]);
        rowMaxV[r] = Vector512.ConditionalSelect(m0, s0, rowMaxV[r]);
        rowArgV[r] = Vector512.ConditionalSelect(m0.AsInt32(), idx0, rowArgV[r]);
        var m1 = Vector512.GreaterThan(s1, rowMaxV[r]);
        rowMaxV[r] = Vector512.ConditionalSelect(m1, s1, rowMaxV[r]);
        rowArgV[r] = Vector512.ConditionalSelect(m1.AsInt32(), idx1, rowArgV[r]);
        var row = Vector512.Create(i0 + r);
        var c0 = Vector512.Load(colMax);
        var n0 = Vector512.GreaterThan(s0, c0);
        Vector512.ConditionalSelect(n0, s0, c0).Store(colMax);
        Vector512.ConditionalSelect(n0.AsInt32(), row, Vector512.Load(colArg)).Store(colArg);
        var c1 = Vector512.Load(colMax + 16);
        var n1 = Vector512.GreaterThan(s1, c1);
        Vector512.ConditionalSelect(n1, s1, c1).Store(colMax + 16);
        Vector512.ConditionalSelect(n1.AsInt32(), row, Vector512.Load(colArg + 16)).Store(colArg + 16);
    }

    internal static unsafe void Run256(float[] probe, int probeCount, float[] enrolledT, int ePad,
        Span<int> rowArg, Span<float> rowMax, Span<int> colArg, Span<float> colMax)
    {
        const int W = 8;
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var rowMaxV = stackalloc Vector256<float>[RowBlock];
        var rowArgV = stackalloc Vector256<int>[RowBlock];
        fixed (float* p = probe)
        fixed (float* e = enrolledT)
        fixed (float* cm = colMax)
        fixed (int* ca = colArg)
        {
            for (var i0 = 0; i0 < probeCount; i0 += RowBlock)
            {
                for (var r = 0; r < RowBlock; r++) { rowMaxV[r] = Vector256.Create(float.NegativeInfinity); rowArgV[r] = Vector256<int>.Zero; }
                float* p0 = p + i0 * Dim, p1 = p0 + Dim, p2 = p1 + Dim, p3 = p2 + Dim;
                var rows = Math.Min(RowBlock, probeCount - i0);
                for (var j0 = 0; j0 < ePad; j0 += 2 * W)
                {
                    Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default,
                        a20 = default, a21 = default, a30 = default, a31 = default;
                    var ep = e + j0;
                    for (var k = 0; k < Dim; k++, ep += ePad)
                    {
                        var e0 = Vector256.Load(ep);
                        var e1 = Vector256.Load(ep + W);
                        var b = Vector256.Create(p0[k]); a00 = Fma256(b, e0, a00); a01 = Fma256(b, e1, a01);
                        b = Vector256.Create(p1[k]); a10 = Fma256(b, e0, a10); a11 = Fma256(b, e1, a11);
                        b = Vector256.Create(p2[k]); a20 = Fma256(b, e0, a20); a21 = Fma256(b, e1, a21);
                        b = Vector256.Create(p3[k]); a30 = Fma256(b, e0, a30); a31 = Fma256(b, e1, a31);
                    }
                    var idx0 = lane + Vector256.Create(j0);
                    var idx1 = idx0 + Vector256.Create(W);
                    Update256(0, i0, a00, a01, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 1) Update256(1, i0, a10, a11, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 2) Update256(2, i0, a20, a21, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                    if (rows > 3) Update256(3, i0, a30, a31, idx0, idx1, cm + j0, ca + j0, rowMaxV, rowArgV);
                }
                for (var r = 0; r < rows; r++)
                    (rowMax[i0 + r], rowArg[i0 + r]) = Reduce(rowMaxV[r], rowArgV[r]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Update256(int r, int i0, Vector256<float> s0, Vector256<float> s1, Vector256<int> idx0, Vector256<int> idx1,
        float* colMax, int* colArg, Vector256<float>* rowMaxV, Vector256<int>* rowArgV)
    {
        var m0 = Vector256.GreaterThan(s0, rowMaxV[r]);
        rowMaxV[r] = Vector256.ConditionalSelect(m0, s0, rowMaxV[r]);
        rowArgV[r] = Vector256.ConditionalSelect(m0.AsInt32(), idx0, rowArgV[r]);
        var m1 = Vector256.GreaterThan(s1, rowMaxV[r]);
        rowMaxV[r] = Vector256.ConditionalSelect(m1, s1, rowMaxV[r]);
        rowArgV[r] = Vector256.ConditionalSelect(m1.AsInt32(), idx1, rowArgV[r]);
        var row = Vector256.Create(i0 + r);
        var c0 = Vector256.Load(colMax);
        var n0 = Vector256.GreaterThan(s0, c0);
        Vector256.ConditionalSelect(n0, s0, c0).Store(colMax);
        Vector256.ConditionalSelect(n0.AsInt32(), row, Vector256.Load(colArg)).Store(colArg);
        var c1 = Vector256.Load(colMax + 8);
        var n1 = Vector256.GreaterThan(s1, c1);
        Vector256.ConditionalSelect(n1, s1, c1).Store(colMax + 8);
        Vector256.ConditionalSelect(n1.AsInt32(), row, Vector256.Load(colArg + 8)).Store(colArg + 8);
    }

    internal static void RunScalar(float[] probe, int probeCount, float[] enrolledT, int ePad,
        Span<int> rowArg, Span<float> rowMax, Span<int> colArg, Span<float> colMax)
    {
        for (var i = 0; i < probeCount; i++)
        {
            var best = float.NegativeInfinity;
            var bestJ = 0;
            for (var j = 0; j < ePad; j++)
            {
                float s = 0;
                for (var k = 0; k < Dim; k++) s += probe[i * Dim + k] * enrolledT[k * ePad + j];
                if (s > best) { best = s; bestJ = j; }
                if (s > colMax[j]) { colMax[j] = s; colArg[j] = i; }
            }
            rowMax[i] = best;
            rowArg[i] = bestJ;
        }
    }

    private static (float Max, int Arg) Reduce(Vector512<float> max, Vector512<int> arg)
    {
        Span<float> values = stackalloc float[16];
        Span<int> indices = stackalloc int[16];
        max.CopyTo(values);
        arg.CopyTo(indices);
        return Reduce(values, indices);
    }

    private static (float Max, int Arg) Reduce(Vector256<float> max, Vector256<int> arg)
    {
        Span<float> values = stackalloc float[8];
        Span<int> indices = stackalloc int[8];
        max.CopyTo(values);
        arg.CopyTo(indices);
        return Reduce(values, indices);
    }

    /// <summary>Lane maximum; among equal maxima the smallest column index (first arg-max).</summary>
    private static (float Max, int Arg) Reduce(ReadOnlySpan<float> values, ReadOnlySpan<int> indices)
    {
        var best = values[0];
        var bestIndex = indices[0];
        for (var l = 1; l < values.Length; l++)
        {
            if (values[l] > best || (values[l] == best && indices[l] < bestIndex)) { best = values[l]; bestIndex = indices[l]; }
        }
        return (best, bestIndex);
    }
}
