using System.Diagnostics;
using System.Text.Json.Serialization;

namespace Entrupy.Fingerprinting.Evaluation;

/// <summary>The figures of one evaluation run, serialized with the key names the product documents.</summary>
public sealed record EvaluationReport
{
    /// <summary>Registered items.</summary>
    [JsonPropertyName("items")] public int Items { get; init; }

    /// <summary>Probe captures.</summary>
    [JsonPropertyName("probes")] public int Probes { get; init; }

    /// <summary>Probes of items that were never registered.</summary>
    [JsonPropertyName("unregistered_probes")] public int UnregisteredProbes { get; init; }

    /// <summary>Probe–own-item pairs scored.</summary>
    [JsonPropertyName("genuine_pairs")] public int GenuinePairs { get; init; }

    /// <summary>Probe–other-item pairs scored.</summary>
    [JsonPropertyName("impostor_pairs")] public long ImpostorPairs { get; init; }

    /// <summary>Equal error rate of the 1:1 compare.</summary>
    [JsonPropertyName("eer")] public double Eer { get; init; }

    /// <summary>False rejects at a false-accept rate of 1e-3.</summary>
    [JsonPropertyName("frr_at_far_1e-3")] public double FrrAtFar1e3 { get; init; }

    /// <summary>False rejects at a false-accept rate of 1e-4.</summary>
    [JsonPropertyName("frr_at_far_1e-4")] public double FrrAtFar1e4 { get; init; }

    /// <summary>Share of registered probes whose best 1:N trace answer is their own item.</summary>
    [JsonPropertyName("rank1")] public double? Rank1 { get; init; }

    /// <summary>Share of unregistered probes that the trace path accepts as some item at the operating threshold.</summary>
    [JsonPropertyName("open_set_false_accept")] public double? OpenSetFalseAccept { get; init; }

    /// <summary>Captures embedded per second (decode, quality gate, model, record), all captures.</summary>
    [JsonPropertyName("embed_per_s")] public double EmbedPerSecond { get; init; }

    /// <summary>The model's operating threshold (accept when score ≥ it).</summary>
    [JsonPropertyName("operating_threshold")] public double OperatingThreshold { get; init; }

    /// <summary>False rejects of genuine pairs at the operating threshold.</summary>
    [JsonPropertyName("frr_at_operating_threshold")] public double FrrAtOperatingThreshold { get; init; }

    /// <summary>False accepts of impostor pairs at the operating threshold.</summary>
    [JsonPropertyName("far_at_operating_threshold")] public double FarAtOperatingThreshold { get; init; }

    /// <summary>Lowest genuine score (the margin above the operating threshold that genuine pairs keep).</summary>
    [JsonPropertyName("genuine_score_min")] public double GenuineScoreMin { get; init; }

    /// <summary>Genuine score at the 1st percentile.</summary>
    [JsonPropertyName("genuine_score_p1")] public double GenuineScoreP1 { get; init; }

    /// <summary>Highest impostor score (the margin below the operating threshold that impostor pairs keep).</summary>
    [JsonPropertyName("impostor_score_max")] public double ImpostorScoreMax { get; init; }

    /// <summary>Mean genuine score.</summary>
    [JsonPropertyName("genuine_score_mean")] public double GenuineScoreMean { get; init; }

    /// <summary>Captures the quality gate rejected (they count as misses, never as matches).</summary>
    [JsonPropertyName("rejected_captures")] public int RejectedCaptures { get; init; }

    /// <summary>1:1 compares per second over the all-pairs scan.</summary>
    [JsonPropertyName("compares_per_s")] public double ComparesPerSecond { get; init; }

    /// <summary>Wall time of the whole run.</summary>
    [JsonPropertyName("seconds")] public double Seconds { get; init; }

    /// <summary>Model id and version.</summary>
    [JsonPropertyName("model")] public string Model { get; init; } = "";

    // ISO/IEC 19795-1 figures. The keys above score a refused capture as 0; these separate refusals from comparisons.

    /// <summary>Items whose every registration capture the quality gate refused (ISO/IEC 19795-1 failure to enrol).</summary>
    [JsonPropertyName("enrolment_failures")] public int EnrolmentFailures { get; init; }

    /// <summary>Failure-to-enrol rate: <see cref="EnrolmentFailures"/> / <see cref="Items"/>.</summary>
    [JsonPropertyName("fte")] public double Fte { get; init; }

    /// <summary>Registration captures refused (an item with several captures may still enrol).</summary>
    [JsonPropertyName("gallery_captures_refused")] public int GalleryCapturesRefused { get; init; }

    /// <summary>Probe captures refused by the quality gate (failure to acquire).</summary>
    [JsonPropertyName("acquisition_failures")] public int AcquisitionFailures { get; init; }

    /// <summary>Failure-to-acquire rate: <see cref="AcquisitionFailures"/> / <see cref="Probes"/>.</summary>
    [JsonPropertyName("fta")] public double Fta { get; init; }

    /// <summary>Genuine comparisons with both captures accepted (the FNMR denominator).</summary>
    [JsonPropertyName("accepted_genuine_pairs")] public int AcceptedGenuinePairs { get; init; }

    /// <summary>Impostor comparisons with both captures accepted (the FMR denominator).</summary>
    [JsonPropertyName("accepted_impostor_pairs")] public long AcceptedImpostorPairs { get; init; }

    /// <summary>False match rate of accepted attempts at the operating threshold.</summary>
    [JsonPropertyName("fmr_at_operating_threshold")] public double FmrAtOperatingThreshold { get; init; }

    /// <summary>False non-match rate of accepted attempts at the operating threshold.</summary>
    [JsonPropertyName("fnmr_at_operating_threshold")] public double FnmrAtOperatingThreshold { get; init; }

    /// <summary>Equal error rate of accepted attempts (FMR = FNMR), refusals left out.</summary>
    [JsonPropertyName("eer_accepted")] public double EerAccepted { get; init; }

    /// <summary>Generalised false-accept rate at the operating threshold (refused attempts in the denominator).</summary>
    [JsonPropertyName("generalised_far_at_operating_threshold")] public double GeneralisedFarAtOperatingThreshold { get; init; }

    /// <summary>Generalised false-reject rate at the operating threshold (refusals and failures to enrol count as rejects).</summary>
    [JsonPropertyName("generalised_frr_at_operating_threshold")] public double GeneralisedFrrAtOperatingThreshold { get; init; }

    /// <summary>Equal error rate of generalised FAR and FRR.</summary>
    [JsonPropertyName("generalised_eer")] public double GeneralisedEer { get; init; }

    /// <summary>Generalised FRR at generalised FAR 1e-3.</summary>
    [JsonPropertyName("generalised_frr_at_far_1e-3")] public double GeneralisedFrrAtFar1e3 { get; init; }

    /// <summary>Generalised FRR at generalised FAR 1e-4.</summary>
    [JsonPropertyName("generalised_frr_at_far_1e-4")] public double GeneralisedFrrAtFar1e4 { get; init; }

    /// <summary>Refused captures (gallery and probes) by reason.</summary>
    [JsonPropertyName("refusals_by_reason")] public IReadOnlyDictionary<string, int> RefusalsByReason { get; init; } = new Dictionary<string, int>();

    /// <summary>
    /// Failures of registered probes (refused, own item not enrolled, or below the operating threshold) by labelled
    /// distortion, in three severity bins (terciles of the labelled probes); empty when probes.csv has no d_* columns.
    /// </summary>
    [JsonPropertyName("failures_by_distortion")] public IReadOnlyDictionary<string, IReadOnlyList<DistortionBin>> FailuresByDistortion { get; init; } =
        new Dictionary<string, IReadOnlyList<DistortionBin>>();

    /// <summary>Every probe's outcome (not part of the JSON line; <c>eval --per-probe FILE</c> writes them as CSV).</summary>
    [JsonIgnore] public IReadOnlyList<ProbeOutcome> ProbeOutcomes { get; init; } = [];
}

/// <summary>One probe's outcome in an evaluation.</summary>
/// <param name="ProbeId">The probe.</param>
/// <param name="ItemId">Its own item, or null when never registered.</param>
/// <param name="Refusal">Why the quality gate refused it, or null.</param>
/// <param name="OwnScore">Score against its own item (0 when refused or the item did not enrol); null when unregistered.</param>
/// <param name="BestImpostorScore">Highest score against any other item.</param>
/// <param name="Quality">The probe's quality figures, when it was accepted.</param>
public sealed record ProbeOutcome(string ProbeId, string? ItemId, CaptureRejection? Refusal, double? OwnScore, double BestImpostorScore, QualityReport? Quality);

/// <summary>Failures of the registered probes whose label for one distortion lies in [<see cref="From"/>, <see cref="To"/>].</summary>
public sealed record DistortionBin
{
    /// <summary>Lowest severity in the bin.</summary>
    [JsonPropertyName("from")] public double From { get; init; }

    /// <summary>Highest severity in the bin.</summary>
    [JsonPropertyName("to")] public double To { get; init; }

    /// <summary>Registered probes in the bin.</summary>
    [JsonPropertyName("probes")] public int Probes { get; init; }

    /// <summary>Probes the quality gate refused.</summary>
    [JsonPropertyName("refused")] public int Refused { get; init; }

    /// <summary>Probes whose own item failed to enrol.</summary>
    [JsonPropertyName("not_enrolled")] public int NotEnrolled { get; init; }

    /// <summary>Accepted probes of enrolled items scoring below the operating threshold.</summary>
    [JsonPropertyName("non_matches")] public int NonMatches { get; init; }

    /// <summary>(refused + not enrolled + non-matches) / probes.</summary>
    [JsonPropertyName("failure_rate")] public double FailureRate { get; init; }
}

/// <summary>
/// Evaluates the product's matching on a dataset: registers the gallery through the engine, scores every probe
/// against every registered item with the 1:1 compare, and asks the 1:N trace path (FAISS shortlist + re-scoring)
/// for rank-1 and open-set false accepts.
/// </summary>
public sealed class FingerprintEvaluation(FingerprintEngine engine, Action<string>? progress = null)
{
    /// <summary>Items the trace path re-scores after the FAISS shortlist.</summary>
    public int TraceShortlist { get; init; } = 100;

    /// <summary>Runs the evaluation.</summary>
    public EvaluationReport Run(EvaluationDataset dataset, CancellationToken cancellationToken = default)
    {
        var total = Stopwatch.StartNew();
        var model = engine.Model;
        using var gallery = new FingerprintGallery(model);

        var embedTime = Stopwatch.StartNew();
        var refusals = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var enrolled = Extract(dataset.Gallery.Select(g => g.ImagePath).ToList(), FingerprintPurpose.Enrolment, "gallery", refusals, null, cancellationToken);
        var probeRefusalReasons = new CaptureRejection?[dataset.Probes.Count];
        var probePrints = Extract(dataset.Probes.Select(p => p.ImagePath).ToList(), FingerprintPurpose.Probe, "probes", refusals, probeRefusalReasons, cancellationToken);
        embedTime.Stop();
        var rejected = enrolled.Count(f => f is null) + probePrints.Count(f => f is null);

        for (var i = 0; i < enrolled.Count; i++)
            if (enrolled[i] is { } e) gallery.Register(dataset.Gallery[i].ItemId, e);
        // Items whose every gallery capture was rejected are still registered items: their genuine pairs score 0.
        var items = dataset.Gallery.Select(g => g.ItemId).Distinct(StringComparer.Ordinal).ToList();
        var itemSet = items.ToHashSet(StringComparer.Ordinal);

        progress?.Invoke($"scoring {dataset.Probes.Count:N0} probes × {items.Count:N0} items (1:1, all pairs)");
        var genuine = new double[dataset.Probes.Count(p => p.ItemId is not null && itemSet.Contains(p.ItemId))];
        var enrolledItems = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < enrolled.Count; i++)
            if (enrolled[i] is not null) enrolledItems.Add(dataset.Gallery[i].ItemId);
        // Scores of comparisons where both captures were accepted (NaN marks a genuine attempt without a score).
        var genuineAccepted = new double[genuine.Length];
        var impostorAccepted = new List<double>[dataset.Probes.Count];
        var impostor = new List<double>[dataset.Probes.Count];
        var genuineIndex = new int[dataset.Probes.Count];
        for (int i = 0, g = 0; i < dataset.Probes.Count; i++)
            genuineIndex[i] = dataset.Probes[i].ItemId is { } id && itemSet.Contains(id) ? g++ : -1;
        var compareTime = Stopwatch.StartNew();
        var done = 0;
        Parallel.For(0, dataset.Probes.Count, new ParallelOptions { CancellationToken = cancellationToken }, p =>
        {
            var probe = probePrints[p];
            var own = dataset.Probes[p].ItemId;
            var scores = new List<double>(items.Count);
            var accepted = new List<double>(probe is null ? 0 : items.Count);
            foreach (var item in items)
            {
                var compared = probe is null ? null : gallery.Compare(probe, item);
                var score = compared?.Score ?? 0;
                if (item == own)
                {
                    genuine[genuineIndex[p]] = score;
                    genuineAccepted[genuineIndex[p]] = compared is null ? double.NaN : score;
                }
                else
                {
                    scores.Add(score);
                    if (compared is not null) accepted.Add(score);
                }
            }
            impostor[p] = scores;
            impostorAccepted[p] = accepted;
            var n = Interlocked.Increment(ref done);
            if (n % 100 == 0) progress?.Invoke($"  {n:N0}/{dataset.Probes.Count:N0} probes scored");
        });
        compareTime.Stop();
        var impostorScores = impostor.SelectMany(s => s).ToArray();

        progress?.Invoke("tracing every probe (1:N: FAISS shortlist, then 1:1 re-scoring)");
        int registered = 0, rankOne = 0, unregistered = 0, falseAccepts = 0;
        var traced = new (bool Registered, bool Correct, bool Accepted)[dataset.Probes.Count];
        Parallel.For(0, dataset.Probes.Count, new ParallelOptions { CancellationToken = cancellationToken }, p =>
        {
            var probe = probePrints[p];
            var own = dataset.Probes[p].ItemId;
            var isRegistered = own is not null && itemSet.Contains(own);
            var best = probe is null ? [] : gallery.Trace(probe, top: 2, shortlist: TraceShortlist);
            // Rank-1 needs the own item strictly first: a tie with another item is not an identification.
            var correct = best.Count > 0 && best[0].ItemId == own && (best.Count == 1 || best[1].Score.Score < best[0].Score.Score);
            traced[p] = (isRegistered, correct, best.Count > 0 && best[0].Score.IsMatch);
        });
        foreach (var t in traced)
        {
            if (t.Registered) { registered++; if (t.Correct) rankOne++; }
            else { unregistered++; if (t.Accepted) falseAccepts++; }
        }

        var threshold = model.OperatingThreshold;
        var acceptedGenuine = genuineAccepted.Where(s => !double.IsNaN(s)).ToArray();
        var acceptedImpostor = impostorAccepted.SelectMany(s => s).ToArray();
        var set = new ScoreSet(acceptedGenuine, genuine.Length - acceptedGenuine.Length, acceptedImpostor,
            impostorScores.LongLength - acceptedImpostor.LongLength);
        var probeRefusals = probePrints.Count(f => f is null);
        var enrolmentFailures = items.Count(i => !enrolledItems.Contains(i));
        return new EvaluationReport
        {
            Items = items.Count,
            Probes = dataset.Probes.Count,
            UnregisteredProbes = unregistered,
            GenuinePairs = genuine.Length,
            ImpostorPairs = impostorScores.LongLength,
            Eer = Round(MatchingMetrics.EqualErrorRate(genuine, impostorScores)),
            FrrAtFar1e3 = Round(MatchingMetrics.FrrAtFar(genuine, impostorScores, 1e-3)),
            FrrAtFar1e4 = Round(MatchingMetrics.FrrAtFar(genuine, impostorScores, 1e-4)),
            Rank1 = registered == 0 ? null : Round(rankOne / (double)registered),
            OpenSetFalseAccept = unregistered == 0 ? null : Round(falseAccepts / (double)unregistered),
            EmbedPerSecond = Math.Round((enrolled.Count + probePrints.Count) / embedTime.Elapsed.TotalSeconds, 1),
            OperatingThreshold = threshold,
            FrrAtOperatingThreshold = Round(MatchingMetrics.FalseRejectRate(genuine, threshold)),
            FarAtOperatingThreshold = Round(MatchingMetrics.FalseAcceptRate(impostorScores, threshold)),
            GenuineScoreMin = genuine.DefaultIfEmpty().Min(),
            GenuineScoreP1 = genuine.Length == 0 ? 0 : genuine.Order().ElementAt(genuine.Length / 100),
            GenuineScoreMean = Round(genuine.DefaultIfEmpty().Average()),
            ImpostorScoreMax = impostorScores.DefaultIfEmpty().Max(),
            RejectedCaptures = rejected,
            ComparesPerSecond = Math.Round((genuine.Length + impostorScores.LongLength) / compareTime.Elapsed.TotalSeconds),
            Seconds = Math.Round(total.Elapsed.TotalSeconds, 1),
            Model = $"{model.Id} {model.Version}",
            EnrolmentFailures = enrolmentFailures,
            Fte = Round(BiometricFigures.FailureRate(enrolmentFailures, items.Count)),
            GalleryCapturesRefused = enrolled.Count(f => f is null),
            AcquisitionFailures = probeRefusals,
            Fta = Round(BiometricFigures.FailureRate(probeRefusals, dataset.Probes.Count)),
            AcceptedGenuinePairs = acceptedGenuine.Length,
            AcceptedImpostorPairs = acceptedImpostor.LongLength,
            FmrAtOperatingThreshold = Round(BiometricFigures.Fmr(set, threshold)),
            FnmrAtOperatingThreshold = Round(BiometricFigures.Fnmr(set, threshold)),
            EerAccepted = Round(MatchingMetrics.EqualErrorRate(acceptedGenuine, acceptedImpostor)),
            GeneralisedFarAtOperatingThreshold = Round(BiometricFigures.GeneralisedFar(set, threshold)),
            GeneralisedFrrAtOperatingThreshold = Round(BiometricFigures.GeneralisedFrr(set, threshold)),
            GeneralisedEer = Round(BiometricFigures.GeneralisedEer(set)),
            GeneralisedFrrAtFar1e3 = Round(BiometricFigures.GeneralisedFrrAtFar(set, 1e-3)),
            GeneralisedFrrAtFar1e4 = Round(BiometricFigures.GeneralisedFrrAtFar(set, 1e-4)),
            ProbeOutcomes = [.. dataset.Probes.Select((probe, p) => new ProbeOutcome(probe.ProbeId, probe.ItemId, probeRefusalReasons[p],
                genuineIndex[p] < 0 ? null : genuine[genuineIndex[p]], impostor[p].DefaultIfEmpty().Max(), probePrints[p]?.Quality))],
            RefusalsByReason = new SortedDictionary<string, int>(refusals, StringComparer.Ordinal),
            FailuresByDistortion = DistortionBreakdown(dataset, probePrints, enrolledItems, genuineIndex, genuine, threshold),
        };
    }

    private List<Fingerprint?> Extract(List<string> paths, FingerprintPurpose purpose, string what,
        System.Collections.Concurrent.ConcurrentDictionary<string, int> refusals, CaptureRejection?[]? reasons, CancellationToken ct)
    {
        progress?.Invoke($"embedding {paths.Count:N0} {what} captures");
        var result = new Fingerprint?[paths.Count];
        var batch = FingerprintEngine.MaxBatchSize;
        var batches = (paths.Count + batch - 1) / batch;
        Parallel.For(0, batches, new ParallelOptions { CancellationToken = ct }, b =>
        {
            var start = b * batch;
            var count = Math.Min(batch, paths.Count - start);
            var images = new List<ReadOnlyMemory<byte>>(count);
            for (var i = 0; i < count; i++) images.Add(File.ReadAllBytes(paths[start + i]));
            var prints = engine.ExtractBatch(images, purpose);
            for (var i = 0; i < count; i++)
            {
                result[start + i] = prints[i].Fingerprint;
                if (reasons is not null) reasons[start + i] = prints[i].Rejection;
                if (prints[i].Fingerprint is null)
                    refusals.AddOrUpdate(prints[i].Rejection?.ToString() ?? "Unknown", 1, (_, n) => n + 1);
                if (prints[i].Fingerprint is null)
                    progress?.Invoke($"  rejected {Path.GetFileName(paths[start + i])}: {prints[i].Rejection} — {prints[i].Message}");
            }
        });
        return [.. result];
    }

    private static double Round(double value) => Math.Round(value, 6);

    private static SortedDictionary<string, IReadOnlyList<DistortionBin>> DistortionBreakdown(EvaluationDataset dataset,
        List<Fingerprint?> probePrints, HashSet<string> enrolledItems, int[] genuineIndex, double[] genuine, double threshold)
    {
        var outcomes = new List<(IReadOnlyDictionary<string, double> Labels, bool Refused, bool NotEnrolled, bool NonMatch)>();
        for (var p = 0; p < dataset.Probes.Count; p++)
        {
            if (genuineIndex[p] < 0 || dataset.Probes[p].Distortions.Count == 0) continue;
            var refused = probePrints[p] is null;
            var notEnrolled = !refused && !enrolledItems.Contains(dataset.Probes[p].ItemId!);
            outcomes.Add((dataset.Probes[p].Distortions, refused, notEnrolled, !refused && !notEnrolled && genuine[genuineIndex[p]] < threshold));
        }
        var result = new SortedDictionary<string, IReadOnlyList<DistortionBin>>(StringComparer.Ordinal);
        foreach (var name in outcomes.SelectMany(o => o.Labels.Keys).Distinct())
        {
            var labelled = outcomes.Where(o => o.Labels.ContainsKey(name)).OrderBy(o => o.Labels[name]).ToList();
            result[name] = DistortionBins.Split(labelled.Count, 3)
                .Select(range => labelled.GetRange(range.Start, range.Count))
                .Select(bin => new DistortionBin
                {
                    From = bin[0].Labels[name],
                    To = bin[^1].Labels[name],
                    Probes = bin.Count,
                    Refused = bin.Count(o => o.Refused),
                    NotEnrolled = bin.Count(o => o.NotEnrolled),
                    NonMatches = bin.Count(o => o.NonMatch),
                    FailureRate = Round(bin.Count(o => o.Refused || o.NotEnrolled || o.NonMatch) / (double)bin.Count),
                })
                .ToList();
        }
        return result;
    }
}

/// <summary>Splits sorted samples into severity bins.</summary>
internal static class DistortionBins
{
    /// <summary>(start, count) of <paramref name="bins"/> nearly equal consecutive ranges of <paramref name="n"/> items; no empty range.</summary>
    public static IEnumerable<(int Start, int Count)> Split(int n, int bins)
    {
        var k = Math.Min(bins, n);
        for (var b = 0; b < k; b++)
        {
            int start = b * n / k, end = (b + 1) * n / k;
            yield return (start, end - start);
        }
    }
}
