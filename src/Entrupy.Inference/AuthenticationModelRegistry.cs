using System.Security.Cryptography;
using System.Text.Json;
using Entrupy.Registry.Inference;

namespace Entrupy.Inference;

/// <summary>One authentication model of <c>registry.json</c>, with its file already read and checked.</summary>
internal sealed class AuthenticationModel
{
    private readonly byte[]? onnx;
    private readonly string? integrityError;

    public AuthenticationModel(AuthenticationModelInfo info, string file, string inputName, int inputSize, string outputName,
        int authenticIndex, int classCount, double authenticMin, double notAuthenticMax, byte[]? onnx, string? integrityError)
    {
        Info = info;
        File = file;
        InputName = inputName;
        InputSize = inputSize;
        OutputName = outputName;
        AuthenticIndex = authenticIndex;
        ClassCount = classCount;
        AuthenticMin = authenticMin;
        NotAuthenticMax = notAuthenticMax;
        this.onnx = onnx;
        this.integrityError = integrityError;
    }

    public AuthenticationModelInfo Info { get; }

    public string Id => Info.Id;

    /// <summary>Full path of the ONNX file.</summary>
    public string File { get; }

    public string InputName { get; }

    /// <summary>Side of the square gray input (the N×1×S×S tensor).</summary>
    public int InputSize { get; }

    public string OutputName { get; }

    /// <summary>Column of the output holding P(authentic).</summary>
    public int AuthenticIndex { get; }

    public int ClassCount { get; }

    /// <summary>P(authentic) at or above which the verdict is authentic.</summary>
    public double AuthenticMin { get; }

    /// <summary>P(authentic) at or below which the verdict is not authentic; between the two: needs review.</summary>
    public double NotAuthenticMax { get; }

    /// <summary>
    /// The verified model bytes (sessions are built from these bytes, not from the file again, so what runs is what
    /// was hashed).
    /// </summary>
    /// <exception cref="InvalidDataException">The file did not match its registry sha256, or could not be read.</exception>
    public ReadOnlyMemory<byte> VerifiedBytes => onnx ?? throw new InvalidDataException(integrityError);
}

/// <summary>
/// The authentication models listed in <c>models/authentication/registry.json</c> (schema 1). Every model file is read
/// once and its sha256 checked against the registry; a model that fails keeps its listing but refuses to run.
/// </summary>
internal sealed class AuthenticationModelRegistry
{
    /// <summary>Name of the registry file inside the model directory.</summary>
    public const string FileName = "registry.json";

    private readonly Dictionary<string, AuthenticationModel> models;

    private AuthenticationModelRegistry(string directory, List<AuthenticationModel> list)
    {
        Directory = directory;
        Models = list;
        models = list.ToDictionary(m => m.Id, StringComparer.Ordinal);
    }

    /// <summary>Directory the registry was loaded from.</summary>
    public string Directory { get; }

    /// <summary>The models, in registry order.</summary>
    public IReadOnlyList<AuthenticationModel> Models { get; }

    /// <summary>The model with id <paramref name="id"/>, or null.</summary>
    public AuthenticationModel? Find(string id) => models.GetValueOrDefault(id);

    /// <summary>Loads and checks <c>registry.json</c> in <paramref name="directory"/>.</summary>
    /// <exception cref="FileNotFoundException">No registry file.</exception>
    /// <exception cref="InvalidDataException">The registry is malformed (bad JSON, missing field, bad thresholds, duplicate id).</exception>
    public static AuthenticationModelRegistry Load(string directory)
    {
        var dir = Path.GetFullPath(directory);
        var path = Path.Combine(dir, FileName);
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"Authentication model registry not found: {path}", path);
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(System.IO.File.ReadAllBytes(path));
            root = doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {ex.Message}", ex);
        }
        try
        {
            if (root.GetProperty("schema").GetInt32() != 1)
                throw new InvalidDataException($"{path}: schema {root.GetProperty("schema")} is not supported (this build reads schema 1).");
            var list = new List<AuthenticationModel>();
            foreach (var m in root.GetProperty("models").EnumerateArray())
            {
                var model = ReadModel(dir, path, m);
                if (list.Any(x => x.Id == model.Id)) throw new InvalidDataException($"{path}: model id '{model.Id}' appears twice.");
                list.Add(model);
            }
            return new AuthenticationModelRegistry(dir, list);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"{path} lacks a field or has one of the wrong type: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The directory <see cref="Load"/> uses by default: <c>models/authentication</c> next to this assembly (copied
    /// there by the build), else under the repository root found by walking up to <c>Entrupy.Grains.sln</c>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">Neither location holds a registry.</exception>
    public static string FindDefaultDirectory()
    {
        var nextToBinaries = Path.Combine(Path.GetDirectoryName(typeof(AuthenticationModelRegistry).Assembly.Location) ?? AppContext.BaseDirectory,
            "models", "authentication");
        if (System.IO.File.Exists(Path.Combine(nextToBinaries, FileName))) return nextToBinaries;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!System.IO.File.Exists(Path.Combine(dir.FullName, "Entrupy.Grains.sln"))) continue;
            var inRepo = Path.Combine(dir.FullName, "models", "authentication");
            if (System.IO.File.Exists(Path.Combine(inRepo, FileName))) return inRepo;
        }
        throw new DirectoryNotFoundException(
            $"No authentication model registry found in {nextToBinaries} nor in models/authentication of a repository above {AppContext.BaseDirectory}.");
    }

    private static AuthenticationModel ReadModel(string dir, string path, JsonElement m)
    {
        var id = Required(m, "id");
        var info = new AuthenticationModelInfo
        {
            Id = id,
            Version = Required(m, "version"),
            Brand = Required(m, "brand"),
            Material = Required(m, "material"),
        };
        var input = m.GetProperty("input");
        var shape = input.GetProperty("shape");
        // [N, 1, S, S]: dynamic batch of one gray square capture each.
        if (shape.GetArrayLength() != 4 || shape[1].GetInt32() != 1 || shape[2].GetInt32() != shape[3].GetInt32() || shape[2].GetInt32() < 8)
            throw new InvalidDataException($"{path}: model '{id}' input shape {shape} is not [N, 1, S, S].");
        var output = m.GetProperty("output");
        var labels = output.GetProperty("labels").EnumerateArray().Select(l => l.GetString()).ToList();
        var authenticIndex = labels.IndexOf("authentic");
        if (authenticIndex < 0) throw new InvalidDataException($"{path}: model '{id}' output labels lack 'authentic'.");
        var thresholds = m.GetProperty("thresholds");
        double authenticMin = thresholds.GetProperty("authentic_min").GetDouble(), notAuthenticMax = thresholds.GetProperty("not_authentic_max").GetDouble();
        if (!(notAuthenticMax >= 0 && notAuthenticMax <= authenticMin && authenticMin <= 1))
            throw new InvalidDataException($"{path}: model '{id}' thresholds need 0 <= not_authentic_max ({notAuthenticMax}) <= authentic_min ({authenticMin}) <= 1.");

        var fileName = Required(m, "model_file");
        if (Path.GetFileName(fileName) != fileName) throw new InvalidDataException($"{path}: model '{id}' file '{fileName}' must be a plain file name.");
        var file = Path.Combine(dir, fileName);
        var expected = Required(m, "sha256");
        byte[]? bytes = null;
        string? error = null;
        try
        {
            var content = System.IO.File.ReadAllBytes(file);
            var actual = Convert.ToHexStringLower(SHA256.HashData(content));
            if (string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase)) bytes = content;
            else error = $"Authentication model '{id}': {file} has sha256 {actual} but {path} says {expected}; refusing to run a model that is not the registered one.";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"Authentication model '{id}': {file} cannot be read ({ex.Message}).";
        }
        return new AuthenticationModel(info, file, Required(input, "name"), shape[2].GetInt32(), Required(output, "name"),
            authenticIndex, labels.Count, authenticMin, notAuthenticMax, bytes, error);
    }

    private static string Required(JsonElement e, string name) =>
        e.GetProperty(name).GetString() is { Length: > 0 } s ? s : throw new InvalidDataException($"'{name}' is empty.");
}
