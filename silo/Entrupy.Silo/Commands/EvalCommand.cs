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
        string? dataset = null, modelDir = null;
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
            Console.WriteLine(JsonSerializer.Serialize(report));
            return 0;
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
        {
            Console.Error.WriteLine($"eval: {e.Message}");
            return 2;
        }
    }

    private const string Usage = "usage: Entrupy.Silo eval --dataset DIR [--model DIR] [--shortlist N]\n" +
                                 "  DIR holds gallery.csv (item_id,image) and probes.csv (probe_id,image,item_id; empty item_id = never registered)";
}
