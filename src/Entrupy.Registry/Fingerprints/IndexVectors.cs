using Entrupy.Fingerprinting;

namespace Entrupy.Registry.Fingerprints;

/// <summary>The one vector an item has in the 1:N index.</summary>
internal static class IndexVectors
{
    /// <summary>
    /// One capture: its global vector as is (so index similarities equal the fingerprint's own inner products).
    /// Several: the L2-normalised mean, which stays nearest to probes of any of the captured spots.
    /// </summary>
    public static float[] Of(IReadOnlyList<Fingerprint> captures)
    {
        ArgumentNullException.ThrowIfNull(captures);
        return Of([.. captures.Select(c => c.GlobalVectorArray())]);
    }

    /// <inheritdoc cref="Of(IReadOnlyList{Fingerprint})"/>
    public static float[] Of(IReadOnlyList<float[]> globalVectors)
    {
        ArgumentNullException.ThrowIfNull(globalVectors);
        if (globalVectors.Count == 0) throw new ArgumentException("At least one capture is needed.", nameof(globalVectors));
        if (globalVectors.Count == 1) return globalVectors[0];
        var sum = new double[globalVectors[0].Length];
        foreach (var vector in globalVectors)
        {
            if (vector.Length != sum.Length) throw new ArgumentException("Captures have global vectors of different lengths.", nameof(globalVectors));
            for (var i = 0; i < sum.Length; i++) sum[i] += vector[i];
        }
        var norm = Math.Sqrt(sum.Sum(v => v * v));
        var result = new float[sum.Length];
        if (norm == 0) return result;
        for (var i = 0; i < sum.Length; i++) result[i] = (float)(sum[i] / norm);
        return result;
    }
}
