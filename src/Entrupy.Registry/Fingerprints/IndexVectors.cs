using Entrupy.Fingerprinting;

namespace Entrupy.Registry.Fingerprints;

/// <summary>The vectors an item has in the 1:N index: one per view of its enrolment (upright, then each steered set).</summary>
internal static class IndexVectors
{
    /// <summary>
    /// One capture: the global vector of each descriptor set as is (so index similarities equal the fingerprint's
    /// own inner products). Several: per view, the L2-normalised mean over the captures, which stays nearest to probes
    /// of any of the captured spots.
    /// </summary>
    public static float[][] Of(IReadOnlyList<Fingerprint> captures, FingerprintModel model)
    {
        ArgumentNullException.ThrowIfNull(captures);
        return Of([.. captures.Select(c => c.SetGlobalVectors(model))]);
    }

    /// <inheritdoc cref="Of(IReadOnlyList{Fingerprint}, FingerprintModel)"/>
    /// <param name="viewsPerCapture">For each capture, its set global vectors, upright first.</param>
    public static float[][] Of(IReadOnlyList<float[][]> viewsPerCapture)
    {
        ArgumentNullException.ThrowIfNull(viewsPerCapture);
        if (viewsPerCapture.Count == 0 || viewsPerCapture.Any(v => v is not { Length: > 0 }))
            throw new ArgumentException("At least one capture, each with at least its upright vector, is needed.", nameof(viewsPerCapture));
        if (viewsPerCapture.Count == 1) return viewsPerCapture[0];
        // Captures of one model have the same steered sets; if they somehow differ, only the upright view lines up.
        var views = viewsPerCapture.All(v => v.Length == viewsPerCapture[0].Length) ? viewsPerCapture[0].Length : 1;
        var result = new float[views][];
        for (var v = 0; v < views; v++) result[v] = NormalisedMean([.. viewsPerCapture.Select(c => c[v])]);
        return result;
    }

    private static float[] NormalisedMean(IReadOnlyList<float[]> vectors)
    {
        var sum = new double[vectors[0].Length];
        foreach (var vector in vectors)
        {
            if (vector.Length != sum.Length) throw new ArgumentException("Captures have global vectors of different lengths.", nameof(vectors));
            for (var i = 0; i < sum.Length; i++) sum[i] += vector[i];
        }
        var norm = Math.Sqrt(sum.Sum(v => v * v));
        var result = new float[sum.Length];
        if (norm == 0) return result;
        for (var i = 0; i < sum.Length; i++) result[i] = (float)(sum[i] / norm);
        return result;
    }
}
