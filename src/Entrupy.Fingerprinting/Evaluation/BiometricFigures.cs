namespace Entrupy.Fingerprinting.Evaluation;

/// <summary>
/// Comparison scores of an evaluation split the way ISO/IEC 19795-1 counts them: scores of attempts whose captures
/// were accepted (probe acquired, item enrolled), and the number of attempts that produced no score because a capture
/// was refused (failure to acquire) or the item could not be registered (failure to enrol).
/// </summary>
/// <param name="Genuine">Scores of genuine comparisons where both sides were accepted.</param>
/// <param name="GenuineFailures">Genuine attempts without a score (probe refused or own item not enrolled).</param>
/// <param name="Impostor">Scores of impostor comparisons where both sides were accepted.</param>
/// <param name="ImpostorFailures">Impostor attempts without a score (probe refused or other item not enrolled).</param>
public sealed record ScoreSet(IReadOnlyList<double> Genuine, long GenuineFailures, IReadOnlyList<double> Impostor, long ImpostorFailures);

/// <summary>
/// ISO/IEC 19795-1 figures from a <see cref="ScoreSet"/>: FMR/FNMR of accepted attempts, and the generalised FAR/FRR
/// that count attempts without a score as failures (a refused genuine attempt is a false reject at every threshold; a
/// refused impostor attempt is never a false accept, but stays in the denominator). A pair is accepted when its
/// score ≥ the threshold.
/// </summary>
public static class BiometricFigures
{
    /// <summary>Failure-to-enrol (or failure-to-acquire) rate: failed attempts / attempts; 0 when there were none.</summary>
    public static double FailureRate(long failures, long attempts) => attempts <= 0 ? 0 : failures / (double)attempts;

    /// <summary>False match rate of accepted impostor attempts at <paramref name="threshold"/>.</summary>
    public static double Fmr(ScoreSet set, double threshold) => MatchingMetrics.FalseAcceptRate(set.Impostor, threshold);

    /// <summary>False non-match rate of accepted genuine attempts at <paramref name="threshold"/>.</summary>
    public static double Fnmr(ScoreSet set, double threshold) => MatchingMetrics.FalseRejectRate(set.Genuine, threshold);

    /// <summary>Generalised false-accept rate: accepted impostor scores ≥ threshold over all impostor attempts.</summary>
    public static double GeneralisedFar(ScoreSet set, double threshold)
    {
        var total = set.Impostor.Count + set.ImpostorFailures;
        return total == 0 ? 0 : set.Impostor.Count(s => s >= threshold) / (double)total;
    }

    /// <summary>Generalised false-reject rate: (attempts without a score + scores below threshold) over all genuine attempts.</summary>
    public static double GeneralisedFrr(ScoreSet set, double threshold)
    {
        var total = set.Genuine.Count + set.GenuineFailures;
        return total == 0 ? 0 : (set.GenuineFailures + set.Genuine.Count(s => s < threshold)) / (double)total;
    }

    /// <summary>The lowest threshold whose generalised false-accept rate is at most <paramref name="far"/>.</summary>
    public static double ThresholdAtGeneralisedFar(ScoreSet set, double far)
    {
        var total = set.Impostor.Count + set.ImpostorFailures;
        if (set.Impostor.Count == 0) return double.NegativeInfinity;
        var sorted = set.Impostor.OrderByDescending(s => s).ToArray();
        var allowed = (long)Math.Floor(far * total); // impostor attempts that may be accepted
        if (allowed >= sorted.Length) return sorted[^1];
        // Accepting sorted[allowed] would accept more than allowed (ties included): go just above it.
        return Math.BitIncrement(sorted[allowed]);
    }

    /// <summary>Generalised false rejects at the lowest threshold meeting generalised false-accept rate <paramref name="far"/>.</summary>
    public static double GeneralisedFrrAtFar(ScoreSet set, double far) => GeneralisedFrr(set, ThresholdAtGeneralisedFar(set, far));

    /// <summary>
    /// Equal error rate of the generalised rates: the mean of generalised FAR and FRR at the threshold where they are
    /// closest. With no failures it equals <see cref="MatchingMetrics.EqualErrorRate(IReadOnlyList{double}, IReadOnlyList{double})"/> of the accepted scores.
    /// </summary>
    public static double GeneralisedEer(ScoreSet set) =>
        MatchingMetrics.EqualErrorRate(set.Genuine, set.Impostor, set.GenuineFailures, set.ImpostorFailures);
}
