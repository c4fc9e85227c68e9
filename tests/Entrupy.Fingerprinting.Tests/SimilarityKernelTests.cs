namespace Entrupy.Fingerprinting.Tests;

/// <summary>Every kernel variant (AVX-512, AVX2, scalar) finds the same mutual-nearest-neighbour structure.</summary>
[Collection(EngineCollection.Name)]
public sealed class SimilarityKernelTests(EngineFixture fx)
{
    private delegate void Kernel(float[] probe, int probeCount, float[] enrolledT, int ePad,
        Span<int> rowArg, Span<float> rowMax, Span<int> colArg, Span<float> colMax);

    private static (int[] RowArg, float[] RowMax, int[] ColArg) Run(Kernel kernel, Fingerprint probe, Fingerprint enrolled, int set)
    {
        var pad = enrolled.PaddedCount;
        int[] rowArg = new int[probe.KeypointCount], colArg = new int[pad];
        var rowMax = new float[probe.KeypointCount];
        var colMax = new float[pad];
        Array.Fill(colMax, float.NegativeInfinity);
        kernel(probe.PaddedSet(probe.UprightSet), probe.KeypointCount, enrolled.TransposedSets()[set], pad, rowArg, rowMax, colArg, colMax);
        return (rowArg, rowMax, colArg);
    }

    [Theory]
    [InlineData("p1.png", "g1.jpg")] // genuine
    [InlineData("p2.jpg", "g5.png")] // impostor
    [InlineData("p5.png", "g5.png")] // genuine, fewer keypoints (K not a multiple of the row block)
    public void Kernel_variants_agree_with_the_scalar_reference(string probeFile, string enrolledFile)
    {
        var probe = fx.Enrolled(probeFile);
        var enrolled = fx.Enrolled(enrolledFile);
        for (var set = 0; set < enrolled.SetCount; set++)
        {
            var scalar = Run(SimilarityKernel.RunScalar, probe, enrolled, set);
            var avx2 = Run(SimilarityKernel.Run256, probe, enrolled, set);
            var avx512 = Run(SimilarityKernel.Run512, probe, enrolled, set);
            // Both SIMD variants accumulate each dot product in the same order with FMA: bit-identical.
            Assert.Equal(avx2.RowMax, avx512.RowMax);
            Assert.Equal(avx2.RowArg, avx512.RowArg);
            Assert.Equal(avx2.ColArg.Take(enrolled.KeypointCount), avx512.ColArg.Take(enrolled.KeypointCount));
            // The scalar loop rounds differently (no FMA): maxima agree to float precision, arg-maxima except near-ties.
            for (var i = 0; i < probe.KeypointCount; i++) Assert.Equal(scalar.RowMax[i], avx2.RowMax[i], 1e-5f);
            var differing = Enumerable.Range(0, probe.KeypointCount).Count(i => scalar.RowArg[i] != avx2.RowArg[i]);
            Assert.True(differing <= 2, $"{differing} row arg-maxima differ between scalar and SIMD");
            Assert.All(avx2.RowArg, j => Assert.InRange(j, 0, enrolled.KeypointCount - 1));
        }
    }
}
