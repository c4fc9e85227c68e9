using Entrupy.Fingerprinting.Evaluation;

namespace Entrupy.Fingerprinting.Tests;

public class BiometricFiguresTests
{
    // 8 accepted genuine scores, 2 genuine attempts refused; 10 accepted impostor scores, 10 impostor attempts refused.
    private static readonly ScoreSet Set = new(
        Genuine: [3, 10, 12, 15, 20, 25, 30, 40], GenuineFailures: 2,
        Impostor: [0, 0, 1, 1, 2, 2, 3, 4, 5, 11], ImpostorFailures: 10);

    [Fact]
    public void Failure_rates_are_failures_over_attempts()
    {
        Assert.Equal(0.25, BiometricFigures.FailureRate(1, 4));
        Assert.Equal(0, BiometricFigures.FailureRate(0, 0));
    }

    [Fact]
    public void Fmr_and_fnmr_count_accepted_attempts_only()
    {
        // At 9: impostor 11 passes (1 of 10 accepted); genuine 3 fails (1 of 8 accepted).
        Assert.Equal(0.1, BiometricFigures.Fmr(Set, 9));
        Assert.Equal(0.125, BiometricFigures.Fnmr(Set, 9));
    }

    [Fact]
    public void Generalised_rates_count_refusals_as_failures()
    {
        // Generalised FRR = (2 refused + 1 below) / 10 genuine attempts; FAR = 1 accepted / 20 impostor attempts.
        Assert.Equal(0.3, BiometricFigures.GeneralisedFrr(Set, 9), 12);
        Assert.Equal(0.05, BiometricFigures.GeneralisedFar(Set, 9), 12);
        // ISO/IEC 19795-1: FRR = FTA + FNMR (1 - FTA), FAR = FMR (1 - FTA), here with FTA = 2/10 and 10/20.
        Assert.Equal(0.2 + 0.125 * 0.8, BiometricFigures.GeneralisedFrr(Set, 9), 12);
        Assert.Equal(0.1 * 0.5, BiometricFigures.GeneralisedFar(Set, 9), 12);
        // A refused genuine attempt is rejected even at the lowest threshold; a refused impostor is never accepted.
        Assert.Equal(0.2, BiometricFigures.GeneralisedFrr(Set, double.NegativeInfinity));
        Assert.Equal(0.5, BiometricFigures.GeneralisedFar(Set, double.NegativeInfinity));
    }

    [Fact]
    public void Generalised_frr_at_far_uses_all_impostor_attempts()
    {
        // FAR 0.05 of 20 attempts allows one accept (11): threshold just above 5, genuine 3 rejected plus 2 refused = 3 / 10.
        // Against the 10 accepted attempts alone the same FAR would allow no accept at all.
        var oneAccept = BiometricFigures.ThresholdAtGeneralisedFar(Set, 0.05);
        Assert.True(oneAccept > 5 && oneAccept < 5.001, $"threshold {oneAccept}");
        Assert.Equal(0.3, BiometricFigures.GeneralisedFrrAtFar(Set, 0.05), 12);
        // FAR 1e-4 allows none: just above 11, genuine 3, 10 rejected (12 passes) plus 2 refused.
        var strict = BiometricFigures.ThresholdAtGeneralisedFar(Set, 1e-4);
        Assert.True(strict > 11 && strict < 11.001);
        Assert.Equal(0.4, BiometricFigures.GeneralisedFrrAtFar(Set, 1e-4), 12);
    }

    [Fact]
    public void Generalised_eer_with_refusals()
    {
        // Thresholds 11 → FAR 1/20, FRR 4/10; 5 → FAR 2/20, FRR 3/10; 4 → 3/20, 3/10; 3 → 4/20, 2/10: equal at 0.2.
        Assert.Equal(0.2, BiometricFigures.GeneralisedEer(Set), 12);
    }

    [Fact]
    public void Without_refusals_the_generalised_figures_equal_the_plain_ones()
    {
        double[] genuine = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14], impostor = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        var set = new ScoreSet(genuine, 0, impostor, 0);
        Assert.Equal(MatchingMetrics.EqualErrorRate(genuine, impostor), BiometricFigures.GeneralisedEer(set), 12);
        Assert.Equal(MatchingMetrics.FrrAtFar(genuine, impostor, 0.1), BiometricFigures.GeneralisedFrrAtFar(set, 0.1), 12);
        Assert.Equal(MatchingMetrics.FalseRejectRate(genuine, 9), BiometricFigures.GeneralisedFrr(set, 9), 12);
        Assert.Equal(MatchingMetrics.FalseAcceptRate(impostor, 9), BiometricFigures.GeneralisedFar(set, 9), 12);
    }

    [Fact]
    public void Everything_refused_is_all_failures()
    {
        var set = new ScoreSet([], 5, [], 20);
        Assert.Equal(1, BiometricFigures.GeneralisedFrr(set, 9));
        Assert.Equal(0, BiometricFigures.GeneralisedFar(set, 9));
        Assert.Equal(1, BiometricFigures.GeneralisedFrrAtFar(set, 1e-4));
    }

    [Fact]
    public void Distortion_bins_cover_every_probe_once()
    {
        Assert.Equal([(0, 3), (3, 3), (6, 4)], DistortionBins.Split(10, 3).ToArray());
        Assert.Equal([(0, 1), (1, 1)], DistortionBins.Split(2, 3).ToArray());
        Assert.Empty(DistortionBins.Split(0, 3));
    }
}

public sealed class DatasetLabelTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("fp-labels-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Probe_distortion_columns_are_read_by_name()
    {
        File.WriteAllBytes(Path.Combine(dir, "a.jpg"), [1]);
        File.WriteAllText(Path.Combine(dir, "gallery.csv"), "item_id,image,rotation\nr1,a.jpg,3.5\n");
        File.WriteAllText(Path.Combine(dir, "probes.csv"),
            "probe_id,image,item_id,d_rotation,d_jpeg,applied\np1,a.jpg,r1,4.25,20,rotation\np2,a.jpg,,,7,\n");
        var data = EvaluationDataset.Load(dir);
        Assert.Equal(new Dictionary<string, double> { ["rotation"] = 4.25, ["jpeg"] = 20 }, data.Probes[0].Distortions);
        Assert.Equal(new Dictionary<string, double> { ["jpeg"] = 7 }, data.Probes[1].Distortions);
        Assert.Null(data.Probes[1].ItemId);
    }
}
