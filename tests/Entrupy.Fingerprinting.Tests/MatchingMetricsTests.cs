using Entrupy.Fingerprinting.Evaluation;

namespace Entrupy.Fingerprinting.Tests;

public class MatchingMetricsTests
{
    [Fact]
    public void Separated_scores_have_no_errors()
    {
        double[] genuine = [20, 30, 40], impostor = [0, 1, 2, 3];
        Assert.Equal(0, MatchingMetrics.EqualErrorRate(genuine, impostor));
        Assert.Equal(0, MatchingMetrics.FrrAtFar(genuine, impostor, 1e-4));
    }

    [Fact]
    public void Overlapping_scores_give_the_expected_rates()
    {
        // Impostors 0..9, genuine 5..14: just above 9 no impostor passes and 5 of 10 genuine fail.
        var impostor = Enumerable.Range(0, 10).Select(i => (double)i).ToArray();
        var genuine = Enumerable.Range(5, 10).Select(i => (double)i).ToArray();
        var strict = MatchingMetrics.ThresholdAtFar(impostor, 0.05);
        Assert.True(strict > 9 && strict < 9.001, $"threshold {strict}");
        Assert.Equal(0.5, MatchingMetrics.FrrAtFar(genuine, impostor, 0.05));
        // FAR 0.1 allows one impostor (score 9) through: threshold 9, genuine 5..8 rejected.
        Assert.Equal(0.4, MatchingMetrics.FrrAtFar(genuine, impostor, 0.1));
        Assert.Equal(0.25, MatchingMetrics.EqualErrorRate(genuine, impostor), 6);
    }

    [Fact]
    public void Ties_at_the_threshold_never_exceed_the_false_accept_budget()
    {
        double[] impostor = [5, 5, 5, 5, 0, 0, 0, 0, 0, 0];
        var t = MatchingMetrics.ThresholdAtFar(impostor, 0.2); // two may pass, but four tie at 5
        Assert.True(MatchingMetrics.FalseAcceptRate(impostor, t) <= 0.2);
        Assert.True(t > 5);
    }
}
