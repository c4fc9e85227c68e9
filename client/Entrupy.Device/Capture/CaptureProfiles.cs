using System.Text.Json;
using System.Text.Json.Serialization;

namespace Entrupy.Device.Capture;

/// <summary>A spot to photograph on an item.</summary>
/// <param name="Name">Spot name used on the command line (<c>--image NAME=path</c>).</param>
/// <param name="Instruction">What to photograph and how.</param>
internal sealed record CaptureSpot(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("instruction")] string Instruction);

/// <summary>The spots to capture for one item type.</summary>
/// <param name="Description">What the profile is for.</param>
/// <param name="Spots">The spots, in upload order.</param>
internal sealed record CaptureProfile(
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("spots")] CaptureSpot[] Spots);

/// <summary>The capture profiles shipped with the tool (<c>profiles.json</c> next to it), or a file given with <c>--profiles</c>.</summary>
internal sealed class CaptureProfiles
{
    /// <summary>File name of the shipped profiles.</summary>
    public const string FileName = "profiles.json";

    private sealed record FileShape(
        [property: JsonPropertyName("version")] int Version,
        [property: JsonPropertyName("profiles")] Dictionary<string, CaptureProfile> Profiles);

    private CaptureProfiles(IReadOnlyDictionary<string, CaptureProfile> profiles) => Profiles = profiles;

    /// <summary>Profiles by name.</summary>
    public IReadOnlyDictionary<string, CaptureProfile> Profiles { get; }

    /// <summary>The shipped file's path.</summary>
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, FileName);

    /// <summary>Loads profiles from <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is missing or malformed.</exception>
    public static CaptureProfiles Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"capture profiles not found: {path}");
        FileShape? shape;
        try { shape = JsonSerializer.Deserialize<FileShape>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"capture profiles {path} are not valid JSON: {e.Message}"); }
        if (shape?.Profiles is not { Count: > 0 }) throw new InvalidDataException($"capture profiles {path} define no profile");
        foreach (var (name, profile) in shape.Profiles)
        {
            if (profile.Spots is not { Length: > 0 }) throw new InvalidDataException($"profile '{name}' in {path} has no spots");
            if (profile.Spots.Select(s => s.Name).Distinct(StringComparer.Ordinal).Count() != profile.Spots.Length)
                throw new InvalidDataException($"profile '{name}' in {path} names a spot twice");
        }
        return new CaptureProfiles(new Dictionary<string, CaptureProfile>(shape.Profiles, StringComparer.OrdinalIgnoreCase));
    }
}
