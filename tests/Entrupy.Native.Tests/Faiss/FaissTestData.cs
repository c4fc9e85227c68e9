namespace Entrupy.Native.Tests.Faiss;

/// <summary>Seeded random vectors and the exact (brute-force) answers to compare FAISS against.</summary>
internal static class FaissTestData
{
    /// <summary>Row-major vectors drawn around <paramref name="centres"/> Gaussian centres (clustered, like real embeddings).</summary>
    public static float[] Clustered(int count, int dimension, int seed, int centres = 20, float spread = 0.35f)
    {
        var random = new Random(seed);
        var centre = new float[centres * dimension];
        for (var i = 0; i < centre.Length; i++) centre[i] = Gaussian(random);
        var data = new float[count * dimension];
        for (var row = 0; row < count; row++)
        {
            var c = random.Next(centres);
            for (var j = 0; j < dimension; j++) data[row * dimension + j] = centre[c * dimension + j] + spread * Gaussian(random);
        }
        return data;
    }

    public static float[] Uniform(int count, int dimension, int seed)
    {
        var random = new Random(seed);
        var data = new float[count * dimension];
        for (var i = 0; i < data.Length; i++) data[i] = random.NextSingle() * 2 - 1;
        return data;
    }

    public static long[] Sequence(int count, long start = 0, long step = 1)
    {
        var ids = new long[count];
        for (var i = 0; i < count; i++) ids[i] = start + i * step;
        return ids;
    }

    /// <summary>Exact k nearest neighbours: squared L2 (ascending) or inner product (descending), in double precision.</summary>
    public static (long[] Ids, float[] Distances) BruteForce(float[] data, long[] ids, float[] queries, int dimension, int k, bool innerProduct)
    {
        var n = data.Length / dimension;
        var q = queries.Length / dimension;
        var outIds = new long[q * k];
        var outDistances = new float[q * k];
        var scores = new (double Score, int Row)[n];
        for (var qi = 0; qi < q; qi++)
        {
            for (var row = 0; row < n; row++)
            {
                double s = 0;
                for (var j = 0; j < dimension; j++)
                {
                    var a = queries[qi * dimension + j];
                    var b = data[row * dimension + j];
                    s += innerProduct ? (double)a * b : ((double)a - b) * ((double)a - b);
                }
                scores[row] = (innerProduct ? -s : s, row);
            }
            Array.Sort(scores, (x, y) => x.Score.CompareTo(y.Score));
            for (var r = 0; r < k; r++)
            {
                outIds[qi * k + r] = ids[scores[r].Row];
                outDistances[qi * k + r] = (float)(innerProduct ? -scores[r].Score : scores[r].Score);
            }
        }
        return (outIds, outDistances);
    }

    /// <summary>Mean fraction of the true top-k found in the returned top-k.</summary>
    public static double Recall(ReadOnlySpan<long> found, ReadOnlySpan<long> truth, int k)
    {
        var queries = truth.Length / k;
        long hits = 0;
        for (var q = 0; q < queries; q++)
        {
            var expected = new HashSet<long>(truth.Slice(q * k, k).ToArray());
            foreach (var id in found.Slice(q * k, k)) if (expected.Contains(id)) hits++;
        }
        return (double)hits / (queries * k);
    }

    private static float Gaussian(Random random)
    {
        // Box–Muller; 1 - NextDouble() avoids log(0).
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }
}
