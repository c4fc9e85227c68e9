using Entrupy.Native.Faiss;

namespace Entrupy.Native.Tests.Faiss;

public class FaissConcurrencyTests
{
    private const int Dim = 24;
    private const int K = 10;

    [Theory]
    [InlineData("HNSW16")]
    [InlineData("IVF32,Flat")]
    [InlineData("Flat")]
    public void ConcurrentSearchesGiveTheSequentialAnswers(string description)
    {
        var data = FaissTestData.Clustered(3000, Dim, seed: 21);
        var queries = FaissTestData.Clustered(64, Dim, seed: 22);
        using var index = FaissIndex.Create(Dim, description);
        index.Train(data);
        index.Add(data, FaissTestData.Sequence(3000, start: 100));
        var parameters = new FaissSearchParameters { EfSearch = 32, Nprobe = 4 };
        var expected = index.Search(queries, K, parameters).Ids.ToArray();

        var failures = 0;
        using var start = new Barrier(6);
        var threads = Enumerable.Range(0, 6).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (var round = 0; round < 15; round++)
            {
                // Half the threads search one query per call, the others the whole batch.
                if (t % 2 == 0)
                {
                    for (var q = 0; q < 64; q++)
                        if (!index.Search(queries.AsSpan(q * Dim, Dim), K, parameters).Ids.SequenceEqual(expected.AsSpan(q * K, K)))
                            Interlocked.Increment(ref failures);
                }
                else if (!index.Search(queries, K, parameters).Ids.SequenceEqual(expected))
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(0, failures);
    }

    [Fact]
    public async Task AddsInterleavedWithSearchesStayConsistent()
    {
        // HNSW inserts are not safe against concurrent searches inside FAISS: the wrapper must serialise them.
        var data = FaissTestData.Clustered(4000, Dim, seed: 23);
        var queries = FaissTestData.Clustered(16, Dim, seed: 24);
        using var index = FaissIndex.Create(Dim, "HNSW16");
        index.Add(data.AsSpan(0, 1000 * Dim), FaissTestData.Sequence(1000));

        using var done = new CancellationTokenSource();
        var badIds = 0;
        var searchers = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
                foreach (var id in index.Search(queries, K).Ids)
                    if (id < 0 || id >= 4000) Interlocked.Increment(ref badIds);
        })).ToArray();
        for (var batch = 1; batch < 4; batch++)
            index.Add(data.AsSpan(batch * 1000 * Dim, 1000 * Dim), FaissTestData.Sequence(1000, start: batch * 1000));
        done.Cancel();
        await Task.WhenAll(searchers);

        Assert.Equal(0, badIds);
        Assert.Equal(4000, index.Count);
        // Each stored vector finds itself first.
        var self = index.Search(data.AsSpan(3999 * Dim, Dim), 1, new FaissSearchParameters { EfSearch = 64 });
        Assert.Equal(3999, self.Ids[0]);
    }
}
