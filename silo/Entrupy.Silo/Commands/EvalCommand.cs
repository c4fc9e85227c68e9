using System.Text.Json;
using Entrupy.Fingerprinting;
using Entrupy.Fingerprinting.Evaluation;

namespace Entrupy.Silo.Commands;

/// <summary>
/// <c>Entrupy.Silo eval --dataset DIR [--model DIR] [--shortlist N]</c>: measures the matching engine the silo uses
/// on a dataset (gallery.csv + probes.csv). Progress goes to stderr; the figures are one JSON object on the last line.
/// </summary>
public static class EvalCommand
{
    /// <summary>Exit codes: 0 done, 2 bad arguments or dataset, 1 unexpected failure.</summary>
    public static int Run(string[] args)
    {
        string? dataset = null, modelDir = null, perProbe = null;
        var shortlist = 100;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--dataset": dataset = Next(); break;
                    case "--model": modelDir = Next(); break;
                    case "--per-probe": perProbe = Next(); break;
                    case "--shortlist": shortlist = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
                    case "-h" or "--help": Console.Error.WriteLine(Usage); return 0;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                Console.Error.WriteLine($"eval: {e.Message}\n{Usage}");
                return 2;
            }
        }
        if (dataset is null)
        {
            Console.Error.WriteLine($"eval: --dataset is required\n{Usage}");
            return 2;
        }

        try
        {
            var data = EvaluationDataset.Load(dataset);
            var model = modelDir is null ? FingerprintModel.LoadDefault() : FingerprintModel.Load(modelDir);
            using var engine = new FingerprintEngine(model);
            void Progress(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");
            Progress($"model {model.Id} {model.Version}; {data.Gallery.Count:N0} gallery captures, {data.Probes.Count:N0} probes");
            var report = new FingerprintEvaluation(engine, Progress) { TraceShortlist = shortlist }.Run(data);
            if (perProbe is not null) WritePerProbe(perProbe, report);
            Console.WriteLine(JsonSerializer.Serialize(report));
            return 0;
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
        {
            Console.Error.WriteLine($"eval: {e.Message}");
            return 2;
        }
    }

    /// <summary>One CSV row per probe: its outcome and quality figures (for calibrating the quality gate).</summary>
    private static void WritePerProbe(string path, EvaluationReport report)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        using var w = new StreamWriter(path);
        w.WriteLine("probe_id,item_id,refusal,own_score,best_impostor,focus,mean,contrast,clipped,detector_energy,stable_keypoints,covered_buckets,anisotropy,bucket_energy");
        foreach (var o in report.ProbeOutcomes)
        {
            var q = o.Quality;
            w.WriteLine(string.Join(',', o.ProbeId, o.ItemId ?? "", o.Refusal?.ToString() ?? "",
                o.OwnScore?.ToString(inv) ?? "", o.BestImpostorScore.ToString(inv),
                q?.Focus.ToString("G6", inv) ?? "", q?.Mean.ToString("G6", inv) ?? "", q?.Contrast.ToString("G6", inv) ?? "",
                q?.Clipped.ToString("G6", inv) ?? "", q?.Evidence?.DetectorEnergy.ToString("G6", inv) ?? "", q?.Evidence?.StableKeypoints.ToString(inv) ?? "",
                q?.Evidence?.CoveredBuckets.ToString(inv) ?? "", q?.Evidence?.Anisotropy.ToString("G6", inv) ?? "",
                q?.Evidence is { } e ? string.Join(' ', e.BucketEnergy.Select(v => v.ToString("G4", inv))) : ""));
        }
    }

    private const string Usage = "usage: Entrupy.Silo eval --dataset DIR [--model DIR] [--shortlist N] [--per-probe FILE]\n" +
                                 "  DIR holds gallery.csv (item_id,image) and probes.csv (probe_id,image,item_id; empty item_id = never registered;\n" +
                                 "  optional d_NAME columns = distortion severities, broken down in failures_by_distortion)\n" +
                                 "  --per-probe FILE writes every probe's outcome and quality figures as CSV";
}
