namespace Entrupy.Fingerprinting.Evaluation;

/// <summary>Error rates from genuine and impostor score samples; a pair is accepted when its score ≥ the threshold.</summary>
public static class MatchingMetrics
{
    /// <summary>Share of impostor scores accepted at <paramref name="threshold"/>.</summary>
    public static double FalseAcceptRate(IReadOnlyList<double> impostor, double threshold) =>
        impostor.Count == 0 ? 0 : impostor.Count(s => s >= threshold) / (double)impostor.Count;

    /// <summary>Share of genuine scores rejected at <paramref name="threshold"/>.</summary>
    public static double FalseRejectRate(IReadOnlyList<double> genuine, double threshold) =>
        genuine.Count == 0 ? 0 : genuine.Count(s => s < threshold) / (double)genuine.Count;

    /// <summary>The lowest threshold whose false-accept rate is at most <paramref name="far"/>.</summary>
    public static double ThresholdAtFar(IReadOnlyList<double> impostor, double far)
    {
        if (impostor.Count == 0) return double.NegativeInfinity;
        var sorted = impostor.OrderByDescending(s => s).ToArray();
        var allowed = (int)Math.Floor(far * sorted.Length); // impostors that may be accepted
        if (allowed >= sorted.Length) return sorted[^1];
        // Accepting sorted[allowed] would accept more than allowed (ties included): go just above it.
        return Math.BitIncrement(sorted[allowed]);
    }

    /// <summary>False rejects at the lowest threshold meeting the false-accept rate <paramref name="far"/>.</summary>
    public static double FrrAtFar(IReadOnlyList<double> genuine, IReadOnlyList<double> impostor, double far) =>
        FalseRejectRate(genuine, ThresholdAtFar(impostor, far));

    /// <summary>Equal error rate: the mean of FAR and FRR at the threshold where they are closest.</summary>
    public static double EqualErrorRate(IReadOnlyList<double> genuine, IReadOnlyList<double> impostor) =>
        EqualErrorRate(genuine, impostor, genuineFailures: 0, impostorFailures: 0);

    /// <summary>
    /// Equal error rate when some attempts failed before scoring: a genuine failure counts as a false reject at every
    /// threshold, an impostor failure as a correct reject (ISO/IEC 19795-1's generalised rates).
    /// </summary>
    internal static double EqualErrorRate(IReadOnlyList<double> genuine, IReadOnlyList<double> impostor, long genuineFailures, long impostorFailures)
    {
        // Sorted copies turn each rate into a binary search: millions of impostor pairs stay cheap.
        var g = genuine.Order().ToArray();
        var i = impostor.Order().ToArray();
        double gTotal = g.Length + genuineFailures, iTotal = i.Length + impostorFailures;
        var best = (Gap: double.MaxValue, Rate: 0.0);
        foreach (var t in g.Concat(i).Append(double.PositiveInfinity).Distinct().Order())
        {
            var fa = iTotal == 0 ? 0 : (i.Length - LowerBound(i, t)) / iTotal;
            var fr = gTotal == 0 ? 0 : (genuineFailures + LowerBound(g, t)) / gTotal;
            if (Math.Abs(fa - fr) < best.Gap) best = (Math.Abs(fa - fr), (fa + fr) / 2);
        }
        return best.Rate;
    }

    /// <summary>Index of the first element ≥ <paramref name="value"/> in an ascending array.</summary>
    private static int LowerBound(double[] sorted, double value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] < value) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
