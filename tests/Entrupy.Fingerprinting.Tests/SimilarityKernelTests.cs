using System.Runtime.Intrinsics.X86;

namespace Entrupy.Fingerprinting.Tests;

/// <summary>
/// Every kernel variant (AVX-VNNI, AVX2, scalar) finds the same mutual-nearest-neighbour structure, bit for bit, and
/// the integer similarities stay within the codes' rounding of the float dot products.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class SimilarityKernelTests(EngineFixture fx)
{
    private delegate void Kernel(sbyte[] probe, float[] probeScale, int probeCount, byte[] enrolled, int ePad,
        Span<int> rowArg, Span<float> rowMax, Span<int> colArg, Span<float> colMax);

    private static (int[] RowArg, float[] RowMax, int[] ColArg) Run(Kernel kernel, Fingerprint probe, Fingerprint enrolled, int set)
    {
        var pad = enrolled.PaddedCount;
        int[] rowArg = new int[probe.KeypointCount], colArg = new int[pad];
        var rowMax = new float[probe.KeypointCount];
        var colMax = new float[pad];
        Array.Fill(colMax, float.NegativeInfinity);
        var rows = probe.ProbeCodes();
        kernel(rows.Codes, rows.Scales, probe.KeypointCount, enrolled.EnrolledCodes()[set], pad, rowArg, rowMax, colArg, colMax);
        return (rowArg, rowMax, colArg[..enrolled.KeypointCount]);
    }

    [Theory]
    [InlineData("p1.png", "g1.jpg")] // genuine
    [InlineData("p2.jpg", "g5.png")] // impostor
    [InlineData("p5.png", "g5.png")] // genuine, fewer keypoints (K not a multiple of the row block)
    public void Kernel_variants_are_bit_identical_to_the_scalar_reference(string probeFile, string enrolledFile)
    {
        var probe = fx.Enrolled(probeFile);
        var enrolled = fx.Enrolled(enrolledFile);
        var variants = new List<(string Name, Kernel Kernel)>();
        if (Avx2.IsSupported) variants.Add(("AVX2", SimilarityKernel.RunAvx2));
        if (AvxVnni.IsSupported) variants.Add(("AVX-VNNI", SimilarityKernel.RunVnni));
        Assert.True(variants.Count > 0 || !Avx2.IsSupported);
        for (var set = 0; set < enrolled.SetCount; set++)
        {
            var scalar = Run(SimilarityKernel.RunScalar, probe, enrolled, set);
            Assert.All(scalar.RowArg, j => Assert.InRange(j, 0, enrolled.KeypointCount - 1));
            foreach (var (name, kernel) in variants)
            {
                var simd = Run(kernel, probe, enrolled, set);
                // Exact integer sums, then the same float multiply: nothing may differ, ties included.
                Assert.True(scalar.RowMax.SequenceEqual(simd.RowMax), $"{name}: row maxima differ");
                Assert.True(scalar.RowArg.SequenceEqual(simd.RowArg), $"{name}: row arg-maxima differ");
                Assert.True(scalar.ColArg.SequenceEqual(simd.ColArg), $"{name}: column arg-maxima differ");
            }
        }
    }

    [Theory]
    [InlineData("p1.png", "g1.jpg")]
    [InlineData("p2.jpg", "g5.png")]
    public void Integer_similarities_are_the_float_dot_products_within_the_codes_rounding(string probeFile, string enrolledFile)
    {
        var probe = fx.Engine.Extract(fx.ImageBytes(probeFile), FingerprintPurpose.Probe);
        var enrolled = Fingerprint.FromBytes(fx.Enrolled(enrolledFile).ToBytes(), fx.Model);
        var upright = enrolled.UprightSet;
        var kernel = Run((p, ps, n, e, pad, ra, rm, ca, _) => SimilarityKernel.Run(p, ps, n, e, pad, ra, rm, ca), probe, enrolled, upright);
        var probeRows = probe.Descriptors(probe.UprightSet);
        var enrolledRows = enrolled.Descriptors(upright); // the codes' own values
        var sameArg = 0;
        for (var i = 0; i < probe.KeypointCount; i++)
        {
            var row = probeRows.Slice(i * Fingerprint.DescriptorLength, Fingerprint.DescriptorLength);
            float best = float.NegativeInfinity;
            var bestJ = -1;
            for (var j = 0; j < enrolled.KeypointCount; j++)
            {
                var dot = System.Numerics.Tensors.TensorPrimitives.Dot(row, enrolledRows.Slice(j * Fingerprint.DescriptorLength, Fingerprint.DescriptorLength));
                if (dot > best) { best = dot; bestJ = j; }
            }
            // A probe code is off by at most half a step of the row's largest component / 127; over a unit-norm
            // enrolled descriptor that moves a dot product by at most sqrt(128) × that, and typically far less.
            Assert.Equal(best, kernel.RowMax[i], 0.01f);
            if (bestJ == kernel.RowArg[i]) sameArg++;
        }
        // Near-ties may swap the nearest neighbour; nearly all rows keep it.
        Assert.True(sameArg >= probe.KeypointCount * 0.95, $"{sameArg}/{probe.KeypointCount} rows keep their float nearest neighbour");
    }

    [Fact]
    public void Codes_interleave_and_read_back_row_by_row()
    {
        const int count = 37, padded = 64;
        var random = new Random(5);
        var codes = new byte[count * Fingerprint.DescriptorLength];
        random.NextBytes(codes);
        var interleaved = DescriptorCodes.InterleaveEnrolled(codes, count, padded);
        Assert.Equal(padded * Fingerprint.DescriptorLength, interleaved.Length);
        var row = new byte[Fingerprint.DescriptorLength];
        for (var j = 0; j < count; j++)
        {
            DescriptorCodes.ReadEnrolledRow(interleaved, padded, j, row);
            Assert.Equal(codes.AsSpan(j * Fingerprint.DescriptorLength, Fingerprint.DescriptorLength).ToArray(), row);
        }
        for (var j = count; j < padded; j++)
        {
            DescriptorCodes.ReadEnrolledRow(interleaved, padded, j, row);
            Assert.All(row, v => Assert.Equal(0, v));
        }
    }

    [Fact]
    public void Vector_encoding_equals_the_scalar_rule_value_for_value()
    {
        // Random components, exact half-way points between codes (rounding to even), out-of-range and special values;
        // a length that is not a multiple of the 32-value vector step, so the scalar tail runs too.
        var random = new Random(11);
        var values = new List<float>();
        for (var i = 0; i < 4000; i++) values.Add((float)(random.NextDouble() * 1.4 - 0.2));
        for (var code = 0; code < 256; code++) values.Add((code + 0.5f) / 255f);
        values.AddRange([float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 0f, 1f, 2f, -1f, 0.5f / 255f, 1e-30f]);
        var input = values.ToArray();
        Assert.NotEqual(0, input.Length % 32);
        var codes = new byte[input.Length];
        DescriptorCodes.EncodeAll(input, codes);
        for (var i = 0; i < input.Length; i++) Assert.True(DescriptorCodes.Encode(input[i]) == codes[i], $"value {input[i]:R}: {codes[i]} vs {DescriptorCodes.Encode(input[i])}");

        // Probe rows: signed codes of each row scaled to its largest component, as the scalar expression gives them.
        var rows = input.AsSpan(0, 30 * Fingerprint.DescriptorLength).ToArray();
        var probe = DescriptorCodes.EncodeProbe(rows, count: 30, paddedRows: 32);
        for (var r = 0; r < 30; r++)
        {
            var row = rows.AsSpan(r * Fingerprint.DescriptorLength, Fingerprint.DescriptorLength);
            var largest = 0f;
            foreach (var v in row) largest = Math.Max(largest, Math.Abs(v));
            var toCode = DescriptorCodes.ProbeRange / largest;
            for (var c = 0; c < row.Length; c++)
                Assert.Equal((sbyte)Math.Clamp(MathF.Round(row[c] * toCode), -DescriptorCodes.ProbeRange, DescriptorCodes.ProbeRange), probe.Codes[r * Fingerprint.DescriptorLength + c]);
        }
    }

    [Fact]
    public void Probe_rows_use_the_whole_code_range_and_zero_rows_match_nothing()
    {
        var rows = new float[2 * Fingerprint.DescriptorLength];
        rows[3] = 0.5f;
        rows[4] = 0.25f;
        rows[5] = -0.125f;
        var encoded = DescriptorCodes.EncodeProbe(rows, count: 2, paddedRows: 32);
        Assert.Equal(127, encoded.Codes[3]);
        Assert.Equal(64, encoded.Codes[4]);  // round(63.5)
        Assert.Equal(-32, encoded.Codes[5]); // round(-31.75)
        Assert.Equal(0.5f / (127 * 255), encoded.Scales[0]);
        Assert.Equal(0f, encoded.Scales[1]); // the second row is all zero
        Assert.All(encoded.Codes.AsSpan(Fingerprint.DescriptorLength).ToArray(), v => Assert.Equal(0, v));
        Assert.Equal(32, encoded.Scales.Length);
    }
}
