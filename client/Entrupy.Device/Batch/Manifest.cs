using System.Security.Cryptography;
using System.Text;
using Entrupy.Registry;

namespace Entrupy.Device.Batch;

/// <summary>One data line of a manifest, parsed (or with the reason it cannot be used).</summary>
/// <param name="LineNumber">1-based line number in the file.</param>
/// <param name="Raw">The line as written (without the line break).</param>
/// <param name="Fields">Its CSV fields.</param>
/// <param name="Error">Why the line is unusable, or null.</param>
internal sealed record ManifestLine(int LineNumber, string Raw, IReadOnlyList<string> Fields, string? Error)
{
    /// <summary>Short hash of the line's content: a journal entry only counts for the same content.</summary>
    public string ContentHash { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Raw)))[..16];
}

/// <summary>A registration manifest line: <c>customer_item_id,image[,image…][,bizStep[,location]]</c>.</summary>
/// <param name="Line">The source line.</param>
/// <param name="CustomerItemId">The item id (with <c>--temporary</c>: the operator's own reference, recorded only).</param>
/// <param name="Images">Full paths of the captures.</param>
/// <param name="BizStep">CBV business step (bare), or null.</param>
/// <param name="Location">Capture location, or null.</param>
internal sealed record RegistrationLine(ManifestLine Line, string CustomerItemId, IReadOnlyList<string> Images, string? BizStep, string? Location);

/// <summary>A link manifest line: <c>temporary_id,permanent_id[,reason]</c>.</summary>
/// <param name="Line">The source line.</param>
/// <param name="TemporaryId">The temporary item.</param>
/// <param name="PermanentId">The permanent item it becomes part of.</param>
/// <param name="Reason">Why, or null.</param>
internal sealed record LinkLine(ManifestLine Line, string TemporaryId, string PermanentId, string? Reason);

/// <summary>
/// Reads manifests. Blank lines and lines starting with <c>#</c> are skipped, and so is a header row (first field
/// <c>customer_item_id</c> or <c>temporary_id</c>). Fields are CSV (quotes allowed, one line per record).
/// </summary>
internal static class Manifest
{
    /// <summary>Extensions that make a field an image path (case-insensitive).</summary>
    public static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp"];

    /// <summary>Most images one registration carries (the API's default <c>Limits:MaxImagesPerRequest</c>).</summary>
    public const int MaxImagesPerLine = 8;

    /// <summary>True when <paramref name="field"/> names an image file by its extension.</summary>
    public static bool LooksLikeImage(string field) =>
        ImageExtensions.Any(e => field.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads the data lines of a manifest file.</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static List<ManifestLine> ReadLines(string path, string headerFirstField)
    {
        var result = new List<ManifestLine>();
        var number = 0;
        var sawData = false;
        foreach (var text in File.ReadLines(path))
        {
            number++;
            var raw = number == 1 ? text.TrimStart('\uFEFF') : text;
            if (string.IsNullOrWhiteSpace(raw) || raw.TrimStart().StartsWith('#')) continue;
            if (!Csv.TrySplit(raw, out var fields, out var error))
            {
                result.Add(new ManifestLine(number, raw, [], error));
                sawData = true;
                continue;
            }
            if (!sawData && string.Equals(fields[0], headerFirstField, StringComparison.OrdinalIgnoreCase))
            {
                sawData = true;
                continue;
            }
            sawData = true;
            result.Add(new ManifestLine(number, raw, fields, null));
        }
        return result;
    }

    /// <summary>
    /// Parses a registration line. After the id, every field ending in an image extension is an image; at most two
    /// fields may follow them: bizStep, then location. Relative image paths are relative to <paramref name="baseDirectory"/>.
    /// </summary>
    /// <param name="line">The line.</param>
    /// <param name="baseDirectory">The manifest's directory.</param>
    /// <param name="temporary">With <c>--temporary</c> the first field is a free reference, not a customer_item_id.</param>
    /// <param name="error">Why the line is unusable.</param>
    public static RegistrationLine? ParseRegistration(ManifestLine line, string baseDirectory, bool temporary, out string? error)
    {
        error = line.Error;
        if (error is not null) return null;
        var f = line.Fields;
        var id = f[0];
        if (!temporary && !ItemKey.IsValidCustomerItemId(id))
        {
            error = id.Length == 0 ? "customer_item_id is empty" : $"'{id}' is not a valid customer_item_id: {ItemKey.CustomerItemIdRule}";
            return null;
        }
        var images = new List<string>();
        var i = 1;
        for (; i < f.Count && LooksLikeImage(f[i]); i++) images.Add(Path.GetFullPath(f[i], baseDirectory));
        if (images.Count == 0)
        {
            error = f.Count > 1 && f[1].Length > 0
                ? $"'{f[1]}' is not an image path (images must end in {string.Join('/', ImageExtensions)})"
                : "no image: expected customer_item_id,image[,image…][,bizStep[,location]]";
            return null;
        }
        if (images.Count > MaxImagesPerLine)
        {
            error = $"{images.Count} images; at most {MaxImagesPerLine} per item";
            return null;
        }
        var rest = f.Skip(i).ToList();
        if (rest.Any(LooksLikeImage))
        {
            error = "images must come right after the id, before bizStep and location";
            return null;
        }
        if (rest.Count > 2)
        {
            error = $"{rest.Count} fields after the images; expected at most bizStep and location";
            return null;
        }
        var bizStep = rest.Count > 0 && rest[0].Length > 0 ? rest[0] : null;
        var location = rest.Count > 1 && rest[1].Length > 0 ? rest[1] : null;
        if (bizStep is not null)
        {
            try { bizStep = CbvVocabulary.NormalizeBizStep(bizStep); }
            catch (InvalidCustodyEventException) { error = $"'{bizStep}' is not a CBV 2.0 business step (e.g. commissioning, shipping, receiving)"; return null; }
            if (location is not null && !EpcisIdentifiers.IsValidLocationId(location))
            {
                error = $"location '{location}' must be an SGLN EPC URI (urn:epc:id:sgln:…) or an https URI when a bizStep is given";
                return null;
            }
        }
        foreach (var image in images)
        {
            if (!File.Exists(image)) { error = $"image not found: {image}"; return null; }
        }
        return new RegistrationLine(line, id, images, bizStep, location);
    }

    /// <summary>Parses a link line <c>temporary_id,permanent_id[,reason]</c>.</summary>
    public static LinkLine? ParseLink(ManifestLine line, out string? error)
    {
        error = line.Error;
        if (error is not null) return null;
        var f = line.Fields;
        if (f.Count < 2 || f.Count > 3) { error = "expected temporary_id,permanent_id[,reason]"; return null; }
        foreach (var id in f.Take(2))
        {
            if (!ItemKey.IsValidCustomerItemId(id)) { error = $"'{id}' is not a valid customer_item_id: {ItemKey.CustomerItemIdRule}"; return null; }
        }
        if (f[0] == f[1]) { error = "an item cannot be linked to itself"; return null; }
        return new LinkLine(line, f[0], f[1], f.Count > 2 && f[2].Length > 0 ? f[2] : null);
    }
}
