using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Entrupy.Silo.Tests;

/// <summary>One labelled capture of models/authentication/samples (labels from samples/expected.json).</summary>
public sealed record AuthenticationSample(string File, string ModelId, string Truth, double PAuthentic)
{
    public byte[] Bytes => System.IO.File.ReadAllBytes(Path.Combine(AuthenticationSamples.Directory, File));
}

/// <summary>The committed authentication models' sample captures and registry, read from the repository.</summary>
public static class AuthenticationSamples
{
    private static readonly Lazy<AuthenticationSample[]> LazyAll = new(Load);

    public static string ModelDirectory => Path.Combine(RepoRoot(), "models", "authentication");

    public static string Directory => Path.Combine(ModelDirectory, "samples");

    public static AuthenticationSample[] All => LazyAll.Value;

    public static AuthenticationSample Get(string modelId, string truth) => All.Single(s => s.ModelId == modelId && s.Truth == truth);

    /// <summary>The model ids listed by registry.json.</summary>
    public static string[] ModelIds()
    {
        using var registry = JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(ModelDirectory, "registry.json")));
        return [.. registry.RootElement.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()!)];
    }

    /// <summary>The decision band of a model from registry.json: (not_authentic_max, authentic_min).</summary>
    public static (double NotAuthenticMax, double AuthenticMin) Thresholds(string modelId)
    {
        using var registry = JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(ModelDirectory, "registry.json")));
        var model = registry.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("id").GetString() == modelId);
        var t = model.GetProperty("thresholds");
        return (t.GetProperty("not_authentic_max").GetDouble(), t.GetProperty("authentic_min").GetDouble());
    }

    private static AuthenticationSample[] Load()
    {
        using var expected = JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(Directory, "expected.json")));
        return [.. expected.RootElement.GetProperty("samples").EnumerateArray().Select(s => new AuthenticationSample(
            s.GetProperty("file").GetString()!, s.GetProperty("model_id").GetString()!, s.GetProperty("truth").GetString()!,
            s.GetProperty("p_authentic").GetDouble()))];
    }

    private static string RepoRoot() => Entrupy.TestSupport.RepositoryRoot.Path;
}

/// <summary>HTTP helpers for the authentication endpoints.</summary>
public static class AuthenticationApiCalls
{
    public static HttpRequestMessage SubmitRequest(string itemId, IEnumerable<byte[]> images, object? metadata, string? idempotencyKey = "auto")
    {
        // A fixed boundary, so the same submission is the same bytes (the idempotency check hashes the body).
        var form = new MultipartFormDataContent("entrupy-test-boundary");
        var index = 0;
        foreach (var image in images)
        {
            var part = new ByteArrayContent(image);
            part.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(part, "image", $"capture{index++}.png");
        }
        if (metadata is not null) form.Add(new StringContent(JsonSerializer.Serialize(metadata), Encoding.UTF8, "application/json"), "metadata");
        var request = new HttpRequestMessage(HttpMethod.Post, $"/items/{Uri.EscapeDataString(itemId)}/authentications") { Content = form };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey == "auto" ? Guid.NewGuid().ToString() : idempotencyKey);
        return request;
    }

    public static Task<HttpResponseMessage> SubmitAsync(this HttpClient client, string itemId, IEnumerable<byte[]> images, object? metadata, string? idempotencyKey = "auto") =>
        client.SendAsync(SubmitRequest(itemId, images, metadata, idempotencyKey));

    /// <summary>Submits and asserts the 202 answer: Location of the status resource and a pending result.</summary>
    public static async Task<(string Location, JsonElement Result)> SubmitAcceptedAsync(this HttpClient client, string itemId, IEnumerable<byte[]> images, string model)
    {
        using var response = await client.SubmitAsync(itemId, images, new { model });
        var result = await response.JsonAsync(HttpStatusCode.Accepted);
        var location = response.Headers.Location?.ToString();
        Assert.False(string.IsNullOrEmpty(location), "202 without a Location header");
        Assert.Equal($"/items/{Uri.EscapeDataString(itemId)}/authentications/{result.GetProperty("authentication_id").GetString()}", location);
        Assert.Equal(model, result.GetProperty("model_id").GetString());
        return (location!, result);
    }

    /// <summary>Polls the status resource until it is no longer pending.</summary>
    public static async Task<JsonElement> WaitUntilDecidedAsync(this HttpClient client, string location, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var result = await (await client.GetAsync(location)).JsonAsync(HttpStatusCode.OK);
            if (result.GetProperty("status").GetString() != "pending") return result;
            if (DateTime.UtcNow > deadline) Assert.Fail($"{location} still pending after {timeout}: {result}");
            await Task.Delay(100);
        }
    }

    public static async Task<JsonElement[]> ReviewQueueAsync(this HttpClient client)
    {
        var entries = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await (await client.GetAsync("/reviews?limit=500" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)))).JsonAsync(HttpStatusCode.OK);
            entries.AddRange(page.GetProperty("entries").EnumerateArray());
            cursor = page.TryGetProperty("next_cursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
        } while (cursor is not null);
        return [.. entries];
    }
}
