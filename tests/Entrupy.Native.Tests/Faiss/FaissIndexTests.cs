using Entrupy.Native.Faiss;

namespace Entrupy.Native.Tests.Faiss;

public class FaissIndexTests
{
    private const int Dim = 32;
    private const int K = 10;

    [Fact]
    public void ReportsTheLinkedFaissVersion()
    {
        Assert.Equal("1.7.3", FaissLibrary.Version);
    }

    [Theory]
    [InlineData(FaissMetric.L2)]
    [InlineData(FaissMetric.InnerProduct)]
    public void FlatAnswersEqualBruteForce(FaissMetric metric)
    {
        var data = FaissTestData.Uniform(3000, Dim, seed: 1);
        var ids = FaissTestData.Sequence(3000, start: 500, step: 3);
        var queries = FaissTestData.Uniform(40, Dim, seed: 2);
        using var index = FaissIndex.Create(Dim, "Flat", metric);
        index.Add(data, ids);

        var result = index.Search(queries, K);
        var (expectedIds, expectedDistances) = FaissTestData.BruteForce(data, ids, queries, Dim, K, metric == FaissMetric.InnerProduct);

        Assert.Equal(3000, index.Count);
        Assert.Equal(metric, index.Metric);
        Assert.Equal(expectedIds, result.Ids.ToArray());
        for (var i = 0; i < expectedDistances.Length; i++)
            Assert.True(Math.Abs(expectedDistances[i] - result.Distances[i]) <= 1e-3f * Math.Max(1f, Math.Abs(expectedDistances[i])),
                $"distance {i}: expected {expectedDistances[i]}, got {result.Distances[i]}");
    }

    [Theory]
    [InlineData("Flat", 2048, 1, 10)]      // the registry's global vectors, one probe at a time (the shim's own AVX2 scan)
    [InlineData("Flat", 37, 5, 10)]        // a length that leaves a scalar tail after the 32- and 8-wide steps
    [InlineData("Flat", 2048, 3, 500)]     // k beyond the vectors held: FAISS pads with id -1
    [InlineData("Flat", 64, 25, 10)]       // a batch FAISS answers with BLAS
    [InlineData("SQfp16", 2048, 1, 10)]    // half-float storage (the shim's F16C scan)
    [InlineData("SQfp16", 37, 5, 10)]
    [InlineData("SQfp16", 2048, 3, 500)]
    [InlineData("SQfp16", 64, 25, 10)]     // FAISS's own SQ path
    public void InnerProductScansOfFewQueriesEqualFaissAndBruteForce(string description, int dimension, int queryCount, int k)
    {
        var data = FaissTestData.Uniform(300, dimension, seed: 21);
        var ids = FaissTestData.Sequence(300, start: 7, step: 5);
        var queries = FaissTestData.Uniform(queryCount, dimension, seed: 22);
        using var index = FaissIndex.Create(dimension, description, FaissMetric.InnerProduct);
        index.Add(data, ids);
        // Half-float storage keeps each value rounded to a half; FAISS's encoder and .NET's may round the odd value
        // differently, so against brute force the half index gets one half-float step of tolerance and no id order.
        var halves = description == "SQfp16";
        if (halves) data = [.. data.Select(v => (float)(Half)v)];

        var result = index.Search(queries, k);
        var faissIds = new long[queryCount * k];
        var faissDistances = new float[queryCount * k];
        index.SearchWithFaissDefaults(queries, k, faissDistances, faissIds);
        Assert.Equal(faissIds, result.Ids.ToArray());
        for (var i = 0; i < faissDistances.Length; i++)
            Assert.True(Math.Abs(faissDistances[i] - result.Distances[i]) <= 1e-4f * Math.Max(1f, Math.Abs(faissDistances[i])), $"{i}: FAISS {faissDistances[i]}, ours {result.Distances[i]}");
        var held = Math.Min(k, 300);
        var (bruteIds, bruteDistances) = FaissTestData.BruteForce(data, ids, queries, dimension, held, innerProduct: true);
        for (var q = 0; q < queryCount; q++)
        {
            if (!halves) Assert.Equal(bruteIds.AsSpan(q * held, held).ToArray(), result.IdsOf(q)[..held].ToArray());
            var tolerance = halves ? 2e-3f : 1e-4f;
            for (var i = 0; i < held; i++)
            {
                float expected = bruteDistances[q * held + i], got = result.DistancesOf(q)[i];
                Assert.True(Math.Abs(expected - got) <= tolerance * Math.Max(1f, Math.Abs(expected)), $"query {q} rank {i}: expected {expected}, got {got}");
            }
            Assert.All(result.IdsOf(q)[held..].ToArray(), id => Assert.Equal(-1, id));
        }
    }

    [Theory]
    [InlineData(FaissMetric.L2)]
    [InlineData(FaissMetric.InnerProduct)]
    public void HnswReachesRecallAndEfSearchChangesIt(FaissMetric metric)
    {
        var data = FaissTestData.Clustered(5000, Dim, seed: 3, centres: 100, spread: 1.0f);
        var ids = FaissTestData.Sequence(5000, start: 1_000_000, step: 7);
        var queries = FaissTestData.Clustered(100, Dim, seed: 4, centres: 100, spread: 1.0f);
        using var index = FaissIndex.Create(Dim, "HNSW16", metric);
        index.Add(data, ids);
        var truth = FaissTestData.BruteForce(data, ids, queries, Dim, K, metric == FaissMetric.InnerProduct).Ids;

        var narrow = index.Search(queries, K, new FaissSearchParameters { EfSearch = 10 });
        var wide = index.Search(queries, K, new FaissSearchParameters { EfSearch = 128 });
        var narrowRecall = FaissTestData.Recall(narrow.Ids, truth, K);
        var wideRecall = FaissTestData.Recall(wide.Ids, truth, K);

        Assert.True(wideRecall >= 0.95, $"recall@10 at efSearch=128 is {wideRecall:F3}");
        Assert.True(wideRecall > narrowRecall, $"efSearch=128 recall {wideRecall:F3} should beat efSearch=10 recall {narrowRecall:F3}");
        Assert.NotEqual(narrow.Ids.ToArray(), wide.Ids.ToArray());
    }

    [Theory]
    [InlineData(FaissMetric.L2)]
    [InlineData(FaissMetric.InnerProduct)]
    public void HnswPerCallPathMatchesFaissOwnSearchAtTheStoredEfSearch(FaissMetric metric)
    {
        // FAISS's stored default efSearch is 16: our per-call implementation must give FAISS's exact answers there.
        var data = FaissTestData.Clustered(4000, Dim, seed: 5);
        var queries = FaissTestData.Clustered(200, Dim, seed: 6);
        using var index = FaissIndex.Create(Dim, "HNSW32", metric);
        index.Add(data, FaissTestData.Sequence(4000));

        var ours = index.Search(queries, K, new FaissSearchParameters { EfSearch = 16 });
        var defaults = index.Search(queries, K);
        var faissIds = new long[200 * K];
        var faissDistances = new float[200 * K];
        index.SearchWithFaissDefaults(queries, K, faissDistances, faissIds);

        Assert.Equal(faissIds, ours.Ids.ToArray());
        Assert.Equal(faissDistances, ours.Distances.ToArray());
        Assert.Equal(faissIds, defaults.Ids.ToArray());
        // One query per call runs on the caller's thread: same answers as the batch.
        for (var q = 0; q < 20; q++)
            Assert.Equal(ours.IdsOf(q).ToArray(), index.Search(queries.AsSpan(q * Dim, Dim), K).Ids.ToArray());
    }

    [Fact]
    public void IvfReachesRecallAndNprobeChangesIt()
    {
        var data = FaissTestData.Clustered(6000, Dim, seed: 7, centres: 100);
        var ids = FaissTestData.Sequence(6000, start: 42);
        var queries = FaissTestData.Clustered(100, Dim, seed: 8, centres: 100);
        using var index = FaissIndex.Create(Dim, "IVF64,Flat");
        Assert.False(index.IsTrained);
        index.Train(data);
        Assert.True(index.IsTrained);
        index.Add(data, ids);
        var truth = FaissTestData.BruteForce(data, ids, queries, Dim, K, innerProduct: false).Ids;

        var one = FaissTestData.Recall(index.Search(queries, K, new FaissSearchParameters { Nprobe = 1 }).Ids, truth, K);
        var eight = FaissTestData.Recall(index.Search(queries, K, new FaissSearchParameters { Nprobe = 8 }).Ids, truth, K);
        var all = index.Search(queries, K, new FaissSearchParameters { Nprobe = 64 });

        Assert.True(eight >= 0.9, $"recall@10 at nprobe=8 is {eight:F3}");
        Assert.True(eight > one, $"nprobe=8 recall {eight:F3} should beat nprobe=1 recall {one:F3}");
        Assert.Equal(truth, all.Ids.ToArray()); // every list probed: exact

        // The stored default (nprobe=1) is what FAISS's own search uses.
        var faissIds = new long[100 * K];
        index.SearchWithFaissDefaults(queries, K, new float[100 * K], faissIds);
        Assert.Equal(faissIds, index.Search(queries, K).Ids.ToArray());
        Assert.Equal(faissIds, index.Search(queries, K, new FaissSearchParameters { Nprobe = 1 }).Ids.ToArray());
    }

    [Theory]
    [InlineData("Flat", FaissMetric.InnerProduct)]
    [InlineData("HNSW16", FaissMetric.L2)]
    [InlineData("IVF16,Flat", FaissMetric.L2)]
    [InlineData("PCA16,IVF8,SQ8", FaissMetric.L2)]
    public void SerializeThenLoadGivesIdenticalAnswers(string description, FaissMetric metric)
    {
        var data = FaissTestData.Clustered(2000, Dim, seed: 9);
        var ids = FaissTestData.Sequence(2000, start: 10, step: 11);
        var queries = FaissTestData.Clustered(50, Dim, seed: 10);
        using var index = FaissIndex.Create(Dim, description, metric);
        index.Train(data);
        index.Add(data, ids);
        var parameters = new FaissSearchParameters { EfSearch = 40, Nprobe = 4 };
        var before = index.Search(queries, K, parameters);

        var bytes = index.Serialize();
        using var loaded = FaissIndex.Deserialize(bytes);
        var after = loaded.Search(queries, K, parameters);

        Assert.Equal(index.Count, loaded.Count);
        Assert.Equal(Dim, loaded.Dimension);
        Assert.Equal(metric, loaded.Metric);
        Assert.Equal(before.Ids.ToArray(), after.Ids.ToArray());
        Assert.Equal(before.Distances.ToArray(), after.Distances.ToArray());
        Assert.Equal(bytes, loaded.Serialize());
    }

    [Theory]
    [InlineData("Flat")]
    [InlineData("IVF16,Flat")]
    public void RemoveDropsVectorsThatAreNeverReturnedAgain(string description)
    {
        var data = FaissTestData.Clustered(1000, Dim, seed: 11);
        var ids = FaissTestData.Sequence(1000, start: 5000);
        using var index = FaissIndex.Create(Dim, description);
        index.Train(data);
        index.Add(data, ids);
        var removedIds = ids.Where((_, i) => i % 3 == 0).Append(-77).ToArray(); // -77 was never added

        var removed = index.Remove(removedIds);

        Assert.Equal(334, removed);
        Assert.Equal(1000 - 334, index.Count);
        // Query with the removed vectors themselves, asking for everything that is left.
        var gone = new HashSet<long>(removedIds);
        var queries = Enumerable.Range(0, 30).SelectMany(i => data.AsSpan(i * 3 * Dim, Dim).ToArray()).ToArray();
        var result = index.Search(queries, 100, new FaissSearchParameters { Nprobe = 16 });
        Assert.DoesNotContain(result.Ids.ToArray(), id => gone.Contains(id));
        Assert.All(result.Ids.ToArray(), id => Assert.True(id >= 5000 && id < 6000, $"unexpected id {id}"));
    }

    [Fact]
    public void HnswRemoveReportsFaissReason()
    {
        using var index = FaissIndex.Create(Dim, "HNSW16");
        index.Add(FaissTestData.Uniform(10, Dim, seed: 12), FaissTestData.Sequence(10));
        var error = Assert.Throws<FaissException>(() => index.Remove([1, 2]));
        Assert.Contains("remove_ids not implemented", error.Message);
        Assert.Equal(10, index.Count);
    }

    [Theory]
    [InlineData(32, "HNSWx", "could not parse index string HNSWx")]
    [InlineData(32, "Bogus,Flat", "could not parse index string")]
    [InlineData(10, "PQ16", "d % M == 0")]
    public void BadFactoryStringsCarryFaissText(int dimension, string description, string faissText)
    {
        var error = Assert.Throws<FaissException>(() => FaissIndex.Create(dimension, description));
        Assert.Contains(faissText, error.NativeMessage);
        Assert.Contains(faissText, error.Message);
        Assert.Contains(description, error.Message);
    }

    [Fact]
    public void MisuseIsRejectedBeforeReachingFaiss()
    {
        using var index = FaissIndex.Create(Dim, "Flat");
        index.Add(FaissTestData.Uniform(5, Dim, seed: 13), FaissTestData.Sequence(5));

        var wrongLength = Assert.Throws<ArgumentException>(() => index.Search(new float[Dim + 3], K));
        Assert.Contains("not a multiple of the index dimension 32", wrongLength.Message);
        var wrongDimension = Assert.Throws<ArgumentException>(() => index.Add(new float[16], [1]));
        Assert.Contains("dimension 32", wrongDimension.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search(new float[Dim], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search(new float[Dim], -1));
        var idCount = Assert.Throws<ArgumentException>(() => index.Add(new float[2 * Dim], [1]));
        Assert.Contains("1 ids were given for 2 vectors", idCount.Message);
        Assert.Throws<ArgumentException>(() => index.Search(new float[Dim], K, new float[K - 1], new long[K]));
        Assert.Throws<ArgumentOutOfRangeException>(() => FaissIndex.Create(0, "Flat"));
        Assert.Throws<ArgumentException>(() => FaissIndex.Create(Dim, " "));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FaissSearchParameters { EfSearch = -1 });
        Assert.Equal(5, index.Count);
    }

    [Fact]
    public void FaissErrorsAtRunTimeCarryFaissText()
    {
        using var ivf = FaissIndex.Create(Dim, "IVF4,Flat");
        var untrained = Assert.Throws<FaissException>(() => ivf.Add(new float[Dim], [1]));
        Assert.Contains("'is_trained' failed", untrained.Message);

        var garbage = Assert.Throws<FaissException>(() => FaissIndex.Deserialize("garbagegarbage"u8));
        Assert.Contains("not recognized", garbage.NativeMessage);
        var truncated = FaissIndex.Create(Dim, "Flat");
        truncated.Add(FaissTestData.Uniform(10, Dim, seed: 14), FaissTestData.Sequence(10));
        var bytes = truncated.Serialize();
        truncated.Dispose();
        Assert.Throws<FaissException>(() => FaissIndex.Deserialize(bytes.AsSpan(0, bytes.Length / 2)));
    }

    [Fact]
    public void OversizedParametersAreCappedNotFatal()
    {
        var data = FaissTestData.Clustered(500, Dim, seed: 17);
        var ids = FaissTestData.Sequence(500);
        var queries = FaissTestData.Clustered(20, Dim, seed: 18);
        var truth = FaissTestData.BruteForce(data, ids, queries, Dim, K, innerProduct: false).Ids;
        using var hnsw = FaissIndex.Create(Dim, "HNSW16");
        using var ivf = FaissIndex.Create(Dim, "IVF8,Flat");
        hnsw.Add(data, ids);
        ivf.Train(data);
        ivf.Add(data, ids);

        var huge = new FaissSearchParameters { EfSearch = int.MaxValue, Nprobe = int.MaxValue };

        Assert.True(FaissTestData.Recall(hnsw.Search(queries, K, huge).Ids, truth, K) >= 0.99);
        Assert.Equal(truth, ivf.Search(queries, K, huge).Ids.ToArray());
    }

    [Fact]
    public void FewerVectorsThanKArePaddedWithMinusOne()
    {
        using var index = FaissIndex.Create(Dim, "HNSW16");
        index.Add(FaissTestData.Uniform(3, Dim, seed: 15), [7, 8, 9]);
        var ids = index.Search(FaissTestData.Uniform(1, Dim, seed: 16), 5).Ids.ToArray();
        Assert.Equal([7, 8, 9], ids[..3].Order().ToArray());
        Assert.Equal([-1, -1], ids[3..]);
    }

    [Fact]
    public void DisposedIndexThrowsObjectDisposed()
    {
        var index = FaissIndex.Create(Dim, "Flat");
        index.Dispose();
        index.Dispose(); // twice is fine
        Assert.Throws<ObjectDisposedException>(() => index.Search(new float[Dim], 1));
        Assert.Throws<ObjectDisposedException>(() => index.Add(new float[Dim], [1]));
        Assert.Throws<ObjectDisposedException>(() => index.Count);
    }

    [Fact]
    public void ThreadCountCanBeSetAndRestored()
    {
        try
        {
            FaissLibrary.ThreadCount = 1;
            Assert.Equal(1, FaissLibrary.ThreadCount);
        }
        finally
        {
            FaissLibrary.ThreadCount = 0;
        }
        Assert.True(FaissLibrary.ThreadCount >= 1);
    }
}
