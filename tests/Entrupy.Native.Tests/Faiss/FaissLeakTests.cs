using Entrupy.Native.Faiss;

namespace Entrupy.Native.Tests.Faiss;

/// <summary>Runs alone (no other test allocating in parallel) so the resident-set figures mean something.</summary>
[CollectionDefinition(nameof(FaissLeakTests), DisableParallelization = true)]
public sealed class FaissLeakCollection;

[Collection(nameof(FaissLeakTests))]
public class FaissLeakTests : IDisposable
{
    public FaissLeakTests()
    {
        // Memory, not parallelism, is under test: one OpenMP thread keeps thousands of tiny calls from
        // each waiting for a second core on a busy machine. This collection runs alone, so the global setting is safe.
        FaissLibrary.ThreadCount = 1;
    }

    public void Dispose() => FaissLibrary.ThreadCount = 0;

    private const int Dim = 16;
    private const long AllowedGrowthBytes = 30L * 1024 * 1024;

    [Fact]
    public void HundredThousandSearchesKeepMemoryFlat()
    {
        var data = FaissTestData.Clustered(2000, Dim, seed: 31);
        var queries = FaissTestData.Clustered(100, Dim, seed: 32);
        using var hnsw = FaissIndex.Create(Dim, "HNSW16");
        using var flat = FaissIndex.Create(Dim, "Flat");
        hnsw.Add(data, FaissTestData.Sequence(2000));
        flat.Add(data, FaissTestData.Sequence(2000));
        var distances = new float[10];
        var ids = new long[10];

        void Run(int calls)
        {
            for (var i = 0; i < calls; i++)
            {
                var query = queries.AsSpan(i % 100 * Dim, Dim);
                if (i % 4 == 0) flat.Search(query, 10, distances, ids);
                else hnsw.Search(query, 10, distances, ids, new FaissSearchParameters { EfSearch = 16 + i % 32 });
            }
        }

        Run(5_000); // warm-up: thread-local buffers, JIT, allocator pools
        var before = ResidentBytes();
        Run(100_000);
        var growth = ResidentBytes() - before;

        Assert.True(growth < AllowedGrowthBytes, $"RSS grew by {growth / 1024 / 1024.0:F1} MB over 100,000 searches");
        Assert.InRange(ids[0], 0, 1999);
    }

    [Fact]
    public void TenThousandCreateFreeCyclesKeepMemoryFlat()
    {
        var data = FaissTestData.Clustered(64, Dim, seed: 33);
        var ids = FaissTestData.Sequence(64);
        string[] descriptions = ["Flat", "HNSW8", "IDMap,Flat", "PCA8,Flat"];

        void Run(int cycles)
        {
            for (var i = 0; i < cycles; i++)
            {
                using var index = FaissIndex.Create(Dim, descriptions[i % descriptions.Length], i % 2 == 0 ? FaissMetric.L2 : FaissMetric.InnerProduct);
                index.Train(data);
                index.Add(data, ids);
                if (i % 10 == 0)
                {
                    using var copy = FaissIndex.Deserialize(index.Serialize());
                    copy.Search(data.AsSpan(0, Dim), 3);
                }
                if (i % 50 == 0) Assert.Throws<FaissException>(() => FaissIndex.Create(Dim, "NotAnIndex"));
            }
        }

        Run(500);
        var before = ResidentBytes();
        Run(10_000);
        var growth = ResidentBytes() - before;

        Assert.True(growth < AllowedGrowthBytes, $"RSS grew by {growth / 1024 / 1024.0:F1} MB over 10,000 create/free cycles");
    }

    private static long ResidentBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        // /proc/self/statm: size resident shared ... in pages.
        var fields = File.ReadAllText("/proc/self/statm").Split(' ');
        return long.Parse(fields[1]) * Environment.SystemPageSize;
    }
}
