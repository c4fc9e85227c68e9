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
        var enrolled = Extract(dataset.Gallery.Select(g => g.ImagePath).ToList(), FingerprintPurpose.Enrolment, "gallery", cancellationToken);
        var probePrints = Extract(dataset.Probes.Select(p => p.ImagePath).ToList(), FingerprintPurpose.Probe, "probes", cancellationToken);
        embedTime.Stop();
        var rejected = enrolled.Count(f => f is null) + probePrints.Count(f => f is null);

        for (var i = 0; i < enrolled.Count; i++)
            if (enrolled[i] is { } e) gallery.Register(dataset.Gallery[i].ItemId, e);
        // Items whose every gallery capture was rejected are still registered items: their genuine pairs score 0.
        var items = dataset.Gallery.Select(g => g.ItemId).Distinct(StringComparer.Ordinal).ToList();
        var itemSet = items.ToHashSet(StringComparer.Ordinal);

        progress?.Invoke($"scoring {dataset.Probes.Count:N0} probes × {items.Count:N0} items (1:1, all pairs)");
        var genuine = new double[dataset.Probes.Count(p => p.ItemId is not null && itemSet.Contains(p.ItemId))];
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
            foreach (var item in items)
            {
                var score = probe is null ? 0 : gallery.Compare(probe, item)?.Score ?? 0;
                if (item == own) genuine[genuineIndex[p]] = score;
                else scores.Add(score);
            }
            impostor[p] = scores;
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
        };
    }

    private List<Fingerprint?> Extract(List<string> paths, FingerprintPurpose purpose, string what, CancellationToken ct)
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
                if (prints[i].Fingerprint is null)
                    progress?.Invoke($"  rejected {Path.GetFileName(paths[start + i])}: {prints[i].Rejection} — {prints[i].Message}");
            }
        });
        return [.. result];
    }

    private static double Round(double value) => Math.Round(value, 6);
}
