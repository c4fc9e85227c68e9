using System.Globalization;
using System.Text.Json;
using Orleans;
using Entrupy.Registry;
using Entrupy.Registry.Api;
using Entrupy.Registry.Inference;
using Entrupy.Silo.Api;

namespace Entrupy.Silo.Items;

/// <summary>A multipart upload: the image parts in order and the metadata part's JSON text, if sent.</summary>
internal sealed record CaptureUpload(byte[][] Images, string? MetadataJson);

/// <summary>Reading and checking what the item endpoints receive: ids, query values, JSON bodies, multipart captures.</summary>
internal static class ItemRequests
{
    /// <summary>
    /// A file part's bytes, read straight into an array of its size (uninitialised: it is filled at once), not via a
    /// MemoryStream and a copy of it. The request's size cap bounds the length.
    /// </summary>
    public static async Task<byte[]> ReadPartAsync(IFormFile file, CancellationToken cancellationToken)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)file.Length));
        await using var part = file.OpenReadStream();
        await part.ReadExactlyAsync(bytes, cancellationToken);
        return bytes;
    }

    /// <summary>The item addressed by the path, in the caller's tenant.</summary>
    /// <exception cref="InvalidIdentifierException">The id breaks <see cref="ItemKey.CustomerItemIdRule"/> (400 invalid-id).</exception>
    public static ItemKey Key(System.Security.Claims.ClaimsPrincipal user, string customerItemId) =>
        ItemKey.Create(user.TenantId(), customerItemId);

    /// <summary>An optional integer query value within bounds.</summary>
    public static int QueryInt(HttpRequest request, string name, int defaultValue, int min, int max)
    {
        var raw = request.Query[name].ToString();
        if (raw.Length == 0) return defaultValue;
        if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw Invalid(name, $"'{name}' must be an integer from {min} to {max}.");
        return value;
    }

    /// <summary>Reads a JSON body with the API's settings; malformed input is a 400 naming the field.</summary>
    public static async Task<T> ReadJsonAsync<T>(HttpRequest request, string what, CancellationToken cancellationToken) where T : class
    {
        if (!request.HasJsonContentType())
            throw new ApiException(ApiErrorKind.UnsupportedMediaType, $"Send the {what} as application/json.");
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(request.Body, ApiJson.Options, cancellationToken)
                ?? throw Invalid(null, $"The {what} must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw JsonProblem(what, e);
        }
    }

    /// <summary>Parses a JSON text (a multipart metadata part) with the API's settings; malformed input is a 400 naming the field.</summary>
    public static T ParseJson<T>(string json, string what) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, ApiJson.Options) ?? throw Invalid(null, $"The {what} must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw JsonProblem(what, e);
        }
    }

    /// <summary>
    /// Reads the multipart body: <c>image</c> file parts (at least one, at most <c>Limits:MaxImagesPerRequest</c>) and,
    /// where <paramref name="metadataAllowed"/>, one <c>metadata</c> part (a form field or a file part holding JSON).
    /// </summary>
    public static async Task<CaptureUpload> ReadCapturesAsync(HttpRequest request, bool metadataAllowed, CancellationToken cancellationToken)
    {
        var files = await UploadLimits.ReadImagesAsync(request, cancellationToken);
        var form = request.Form;
        string? metadata = null;
        var images = new List<byte[]>(files.Count);
        foreach (var file in files)
        {
            if (file.Name == ApiRoutes.MetadataPart && metadataAllowed && metadata is null)
            {
                using var reader = new StreamReader(file.OpenReadStream());
                metadata = await reader.ReadToEndAsync(cancellationToken);
                continue;
            }
            if (file.Name != ApiRoutes.ImagePart)
                throw Invalid(file.Name, $"Unexpected multipart file part '{file.Name}': send captures as '{ApiRoutes.ImagePart}' parts" +
                    (metadataAllowed ? $" and the metadata as one '{ApiRoutes.MetadataPart}' part." : "."));
            images.Add(await ReadPartAsync(file, cancellationToken));
        }
        foreach (var (name, values) in form)
        {
            if (name == ApiRoutes.MetadataPart && metadataAllowed && metadata is null && values.Count == 1)
            {
                metadata = values.ToString();
                continue;
            }
            throw Invalid(name, name == ApiRoutes.MetadataPart
                ? (metadataAllowed ? $"Send one '{ApiRoutes.MetadataPart}' part." : $"This endpoint takes no '{ApiRoutes.MetadataPart}' part.")
                : $"Unexpected multipart field '{name}'.");
        }
        if (images.Count == 0)
            throw Invalid(ApiRoutes.ImagePart, $"Send at least one capture as a multipart file part named '{ApiRoutes.ImagePart}'.");
        return new CaptureUpload([.. images], metadata);
    }

    /// <summary>The view as the API shows it: fingerprint bytes are large and only the matcher needs them.</summary>
    public static ItemView WithoutFingerprints(ItemView view) => view with
    {
        Lineage = [.. view.Lineage.Select(r => r with { Fingerprint = null })],
        CurrentRegistration = view.CurrentRegistration is { } current ? current with { Fingerprint = null } : null,
    };

    private static ApiException Invalid(string? field, string detail) =>
        field is null
            ? new ApiException(ApiErrorKind.InvalidRequest, detail)
            : new ApiException(ApiErrorKind.InvalidRequest, detail, new Dictionary<string, object?> { ["field"] = field });

    private static ApiException JsonProblem(string what, JsonException e)
    {
        // The serializer's own message names .NET types; the path and position are what a client can act on.
        var field = e.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : null;
        var where = field is not null ? $"field '{field}' has a value of the wrong type or format"
            : $"it is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})";
        return Invalid(field, $"The {what} cannot be read: {where}.");
    }
}

/// <summary>One rejected capture, as listed in a 422 capture-rejected problem.</summary>
/// <param name="Index">Index of the image part, from 0.</param>
/// <param name="Reason">Stable reason code (not_an_image, corrupt, too_large, too_small, out_of_focus, overexposed, underexposed, low_contrast, clipped).</param>
/// <param name="Message">How to retake it.</param>
/// <param name="Quality">Quality figures, when the image could be decoded.</param>
internal sealed record CaptureRejectionDetail(
    [property: System.Text.Json.Serialization.JsonPropertyName("index")] int Index,
    [property: System.Text.Json.Serialization.JsonPropertyName("reason")] string Reason,
    [property: System.Text.Json.Serialization.JsonPropertyName("message")] string Message,
    [property: System.Text.Json.Serialization.JsonPropertyName("quality")] CaptureQuality? Quality);
