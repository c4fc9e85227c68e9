using Entrupy.Native.Faiss;

namespace Entrupy.Fingerprinting.Tests;

/// <summary>The global vector goes into a real FAISS inner-product index as the 1:N shortlist.</summary>
[Collection(EngineCollection.Name)]
public sealed class GlobalVectorTests(EngineFixture fx)
{
    [Fact]
    public void Faiss_inner_product_shortlist_contains_the_genuine_item()
    {
        var gallery = Enumerable.Range(0, 6).Select(i => fx.Enrolled(Directory.GetFiles(fx.ParityDir, $"g{i}.*").Select(Path.GetFileName).Single()!)).ToArray();
        using var index = FaissIndex.Create(fx.Model.GlobalVectorLength, "Flat", FaissMetric.InnerProduct);
        index.Add(gallery.SelectMany(g => g.GlobalVectorArray()).ToArray(), Enumerable.Range(0, 6).Select(i => (long)i).ToArray());
        var hits = 0;
        for (var i = 0; i < 6; i++)
        {
            var file = Directory.GetFiles(fx.ParityDir, $"p{i}.*").Select(Path.GetFileName).Single()!;
            var probe = fx.Engine.Extract(fx.ImageBytes(file), FingerprintPurpose.Probe);
            var result = index.Search(probe.GlobalVector, 3);
            Assert.Contains((long)i, result.IdsOf(0).ToArray()); // shortlist of 3 out of 6
            Assert.InRange(result.DistancesOf(0)[0], -1.0001f, 1.0001f); // cosine
            if (result.IdsOf(0)[0] == i) hits++;
        }
        Assert.True(hits >= 4, $"rank-1 of the global vector alone: {hits}/6");
    }
}
