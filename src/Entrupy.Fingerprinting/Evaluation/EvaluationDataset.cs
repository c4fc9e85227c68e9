namespace Entrupy.Fingerprinting.Evaluation;

/// <summary>A gallery capture: <c>gallery.csv</c> row <c>item_id,image</c>.</summary>
/// <param name="ItemId">The registered item.</param>
/// <param name="ImagePath">Full path of the capture.</param>
public sealed record GalleryEntry(string ItemId, string ImagePath);

/// <summary>A probe capture: <c>probes.csv</c> row <c>probe_id,image,item_id</c>; no item id = never registered.</summary>
/// <param name="ProbeId">The probe's id.</param>
/// <param name="ImagePath">Full path of the capture.</param>
/// <param name="ItemId">The item it shows, or null for an item that was never registered.</param>
public sealed record ProbeEntry(string ProbeId, string ImagePath, string? ItemId)
{
    /// <summary>
    /// Distortion severities the dataset labels the probe with: every numeric <c>d_NAME</c> column of probes.csv, keyed
    /// by NAME (e.g. rotation, scale, blur, exposure, noise, jpeg; see models/fingerprint/make_real_devset.py). Empty
    /// when the dataset carries no labels.
    /// </summary>
    public IReadOnlyDictionary<string, double> Distortions { get; init; } = new Dictionary<string, double>();
}

/// <summary>An evaluation dataset: a folder with <c>gallery.csv</c> and <c>probes.csv</c>; image paths are relative to it.</summary>
public sealed class EvaluationDataset
{
    private EvaluationDataset(IReadOnlyList<GalleryEntry> gallery, IReadOnlyList<ProbeEntry> probes)
    {
        Gallery = gallery;
        Probes = probes;
    }

    /// <summary>Registration captures.</summary>
    public IReadOnlyList<GalleryEntry> Gallery { get; }

    /// <summary>Probe captures.</summary>
    public IReadOnlyList<ProbeEntry> Probes { get; }

    /// <summary>Reads a dataset folder; errors name the file and line.</summary>
    /// <exception cref="InvalidDataException">A missing file, a bad header or a bad row.</exception>
    public static EvaluationDataset Load(string directory)
    {
        if (!Directory.Exists(directory)) throw new InvalidDataException($"dataset folder '{directory}' does not exist");
        var gallery = ReadCsv(directory, "gallery.csv", ["item_id", "image"], (row, _, line, file) =>
        {
            if (row[0].Length == 0) throw new InvalidDataException($"{file}:{line}: item_id is empty");
            return new GalleryEntry(row[0], ImagePath(directory, row[1], file, line));
        });
        var probes = ReadCsv(directory, "probes.csv", ["probe_id", "image", "item_id"], (row, columns, line, file) =>
            new ProbeEntry(row[0], ImagePath(directory, row[1], file, line), row[2].Length == 0 ? null : row[2])
            {
                Distortions = Distortions(row, columns, file, line),
            });
        if (gallery.Count == 0) throw new InvalidDataException("gallery.csv has no rows");
        if (probes.Count == 0) throw new InvalidDataException("probes.csv has no rows");
        return new EvaluationDataset(gallery, probes);
    }

    private static string ImagePath(string directory, string relative, string file, int line)
    {
        if (relative.Length == 0) throw new InvalidDataException($"{file}:{line}: image is empty");
        var path = Path.GetFullPath(Path.Combine(directory, relative));
        if (!File.Exists(path)) throw new InvalidDataException($"{file}:{line}: image '{relative}' not found");
        return path;
    }

    private static Dictionary<string, double> Distortions(string[] row, string[] columns, string file, int line)
    {
        var labels = new Dictionary<string, double>(StringComparer.Ordinal);
        for (var c = 0; c < Math.Min(row.Length, columns.Length); c++)
        {
            if (!columns[c].StartsWith("d_", StringComparison.Ordinal) || row[c].Length == 0) continue;
            if (!double.TryParse(row[c], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v))
                throw new InvalidDataException($"{file}:{line}: {columns[c]} '{row[c]}' is not a number");
            labels[columns[c][2..]] = v;
        }
        return labels;
    }

    private static List<T> ReadCsv<T>(string directory, string name, string[] header, Func<string[], string[], int, string, T> parse)
    {
        var path = Path.Combine(directory, name);
        if (!File.Exists(path)) throw new InvalidDataException($"{name} is missing in '{directory}'");
        var rows = new List<T>();
        var lineNumber = 0;
        string[] columns = header;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            if (lineNumber == 1)
            {
                var found = line.Split(',').Select(c => c.Trim()).ToArray();
                if (!found.Take(header.Length).SequenceEqual(header))
                    throw new InvalidDataException($"{name}: header must start with '{string.Join(',', header)}', found '{line}'");
                columns = found;
                continue;
            }
            if (line.Length == 0) continue;
            var cells = line.Split(',').Select(c => c.Trim()).ToArray();
            if (cells.Length < header.Length)
            {
                // A trailing empty item_id may be written without its comma.
                if (cells.Length == header.Length - 1 && header[^1] == "item_id") cells = [.. cells, ""];
                else throw new InvalidDataException($"{name}:{lineNumber}: expected {header.Length} columns, found {cells.Length}");
            }
            rows.Add(parse(cells, columns, lineNumber, name));
        }
        return rows;
    }
}
