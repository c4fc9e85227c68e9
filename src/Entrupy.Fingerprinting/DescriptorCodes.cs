using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Entrupy.Fingerprinting;

/// <summary>
/// The integer forms of descriptors that <see cref="SimilarityKernel"/> multiplies. The enrolled side is the record's
/// own 8-bit codes (value = code / 255, exactly what format 2 stores), interleaved four dimensions at a time so that one
/// 32-byte load holds dimensions 4g..4g+3 of eight columns, the operand layout of VNNI's <c>vpdpbusd</c>. The probe
/// side is signed 7-bit codes scaled per row to that row's largest component, with the factor that turns an integer dot
/// product back into a similarity. Integer products are exact, so every kernel variant (VNNI, AVX2, scalar) computes
/// bit-identical similarities.
/// </summary>
internal static class DescriptorCodes
{
    /// <summary>Enrolled code = round(value × this), clamped to 0–255: the record format's rule.</summary>
    public const float EnrolledScale = 255f;

    /// <summary>Probe codes span ±this at a row's largest component.</summary>
    public const int ProbeRange = 127;

    /// <summary>Dimensions per interleaved group (one 32-bit lane of <c>vpdpbusd</c>).</summary>
    public const int GroupWidth = 4;

    /// <summary>Interleaved groups per descriptor.</summary>
    public const int Groups = Fingerprint.DescriptorLength / GroupWidth;

    // code / EnrolledScale for every code, computed exactly as the per-value division was.
    private static readonly float[] CodeValues = [.. Enumerable.Range(0, 256).Select(code => code / EnrolledScale)];

    /// <summary>The record format's 8-bit code of one descriptor component.</summary>
    public static byte Encode(float value) => QuantizeOne(value, EnrolledScale, 0f, 255f);

    /// <summary><see cref="Encode"/> of every value, 32 at a time where the CPU has 256-bit vectors (same results).</summary>
    public static void EncodeAll(ReadOnlySpan<float> values, Span<byte> codes) =>
        Quantize(values, EnrolledScale, 0f, 255f, MemoryMarshal.AsBytes(codes[..values.Length]));

    /// <summary>
    /// round(value × <paramref name="scale"/>) clamped to [<paramref name="low"/>, <paramref name="high"/>], stored as
    /// the low byte of the whole number (a code 0..255 or a signed code -127..127), as the scalar expression computes it.
    /// </summary>
    private static void Quantize(ReadOnlySpan<float> values, float scale, float low, float high, Span<byte> codes)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var factor = Vector256.Create(scale);
            var lowest = Vector256.Create(low);
            var highest = Vector256.Create(high);
            ref var source = ref MemoryMarshal.GetReference(values);
            ref var target = ref MemoryMarshal.GetReference(codes);
            for (; i <= values.Length - 32; i += 32)
            {
                var a = Whole(ref source, i, factor, lowest, highest);
                var b = Whole(ref source, i + 8, factor, lowest, highest);
                var c = Whole(ref source, i + 16, factor, lowest, highest);
                var d = Whole(ref source, i + 24, factor, lowest, highest);
                Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, d)).AsByte().StoreUnsafe(ref target, (nuint)i);
            }
        }
        for (; i < values.Length; i++) codes[i] = QuantizeOne(values[i], scale, low, high);
    }

    private static byte QuantizeOne(float value, float scale, float low, float high) =>
        unchecked((byte)(int)Math.Clamp(MathF.Round(value * scale), low, high));

    private static Vector256<int> Whole(ref float source, int index, Vector256<float> factor, Vector256<float> lowest, Vector256<float> highest) =>
        Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(Vector256.Round(Vector256.LoadUnsafe(ref source, (nuint)index) * factor), lowest), highest));

    /// <summary>The components 8-bit codes stand for (code / 255).</summary>
    public static void DecodeAll(ReadOnlySpan<byte> codes, Span<float> values)
    {
        values = values[..codes.Length];
        for (var i = 0; i < codes.Length; i++) values[i] = CodeValues[codes[i]];
    }

    /// <summary>Bytes of one set in the interleaved enrolled layout.</summary>
    public static int EnrolledLength(int paddedCount) => paddedCount * Fingerprint.DescriptorLength;

    /// <summary>Offset of row <paramref name="row"/>'s group <paramref name="group"/> in the interleaved layout.</summary>
    public static int EnrolledOffset(int paddedCount, int row, int group) => (group * paddedCount + row) * GroupWidth;

    /// <summary>
    /// Row-major 8-bit codes ([count][128], the record's own order) into the interleaved layout; the padding columns
    /// are zero.
    /// </summary>
    public static byte[] InterleaveEnrolled(ReadOnlySpan<byte> rowMajorCodes, int count, int paddedCount)
    {
        var result = new byte[EnrolledLength(paddedCount)];
        var target = MemoryMarshal.Cast<byte, uint>(result.AsSpan());
        var source = MemoryMarshal.Cast<byte, uint>(rowMajorCodes[..(count * Fingerprint.DescriptorLength)]);
        for (var j = 0; j < count; j++)
            for (var g = 0; g < Groups; g++)
                target[g * paddedCount + j] = source[j * Groups + g];
        return result;
    }

    /// <summary>Row-major float descriptors ([≥count][128]) encoded as <see cref="Encode"/> does, then interleaved.</summary>
    public static byte[] EncodeEnrolled(ReadOnlySpan<float> rowMajor, int count, int paddedCount)
    {
        var codes = new byte[count * Fingerprint.DescriptorLength];
        EncodeAll(rowMajor[..codes.Length], codes);
        return InterleaveEnrolled(codes, count, paddedCount);
    }

    /// <summary>One row's 128 codes (record order) out of the interleaved layout.</summary>
    public static void ReadEnrolledRow(ReadOnlySpan<byte> interleaved, int paddedCount, int row, Span<byte> codes)
    {
        for (var g = 0; g < Groups; g++)
            interleaved.Slice(EnrolledOffset(paddedCount, row, g), GroupWidth).CopyTo(codes[(g * GroupWidth)..]);
    }

    /// <summary>
    /// Probe rows as signed codes round(v × 127 / max|v| of the row), row-major [paddedRows][128], and per row the
    /// factor max|v| / (127 × 255) that turns a dot product with enrolled codes into a similarity (0 for zero rows).
    /// Scaling each row to its own largest component keeps 7 bits for the values that decide a match.
    /// </summary>
    public static ProbeRows EncodeProbe(ReadOnlySpan<float> rowMajor, int count, int paddedRows)
    {
        const int dim = Fingerprint.DescriptorLength;
        var codes = new sbyte[paddedRows * dim];
        var scales = new float[paddedRows];
        for (var i = 0; i < count; i++)
        {
            var row = rowMajor.Slice(i * dim, dim);
            var largest = 0f;
            foreach (var v in row) largest = Math.Max(largest, Math.Abs(v));
            if (largest == 0f || !float.IsFinite(largest)) continue; // a zero (or broken) row matches nothing
            Quantize(row, ProbeRange / largest, -ProbeRange, ProbeRange, MemoryMarshal.AsBytes(codes.AsSpan(i * dim, dim)));
            scales[i] = largest / (ProbeRange * EnrolledScale);
        }
        return new ProbeRows(codes, scales);
    }
}

/// <summary>Probe rows as <see cref="DescriptorCodes.EncodeProbe"/> makes them.</summary>
/// <param name="Codes">Signed codes, row-major [paddedRows][128].</param>
/// <param name="Scales">Per row: integer dot product with enrolled codes → similarity.</param>
internal sealed record ProbeRows(sbyte[] Codes, float[] Scales);
