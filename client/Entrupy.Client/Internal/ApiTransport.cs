using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Entrupy.Registry.Api;

namespace Entrupy.Client.Internal;

/// <summary>A request body serialized once, so every retry sends the very same bytes (the silo's idempotency check hashes them).</summary>
/// <param name="Bytes">The body.</param>
/// <param name="ContentType">The full <c>Content-Type</c> value, multipart boundary included.</param>
internal sealed record RequestBody(byte[] Bytes, string ContentType)
{
    public static RequestBody Json<T>(T value)
        => new(JsonSerializer.SerializeToUtf8Bytes(value, ApiJson.Options), "application/json; charset=utf-8");

    /// <summary>Multipart form: one <see cref="ApiRoutes.ImagePart"/> part per image, then the optional metadata JSON part.</summary>
    public static async Task<RequestBody> MultipartAsync(IReadOnlyList<CaptureImage> images, object? metadata, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("At least one capture image is required.", nameof(images));
        var metadataJson = metadata is null ? null : JsonSerializer.SerializeToUtf8Bytes(metadata, metadata.GetType(), ApiJson.Options);
        using var form = new MultipartFormDataContent(Boundary(images, metadataJson));
        foreach (var image in images)
        {
            ArgumentNullException.ThrowIfNull(image, nameof(images));
            var part = new ReadOnlyMemoryContent(image.Content);
            part.Headers.ContentType = MediaTypeHeaderValue.Parse(image.EffectiveContentType);
            form.Add(part, ApiRoutes.ImagePart, PartFileName(image));
        }
        if (metadataJson is not null)
        {
            var json = new ByteArrayContent(metadataJson);
            json.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            form.Add(json, ApiRoutes.MetadataPart);
        }
        var bytes = await form.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        return new RequestBody(bytes, form.Headers.ContentType!.ToString());
    }

    private static string PartFileName(CaptureImage image) => string.IsNullOrEmpty(image.FileName) ? "capture" : image.FileName;

    /// <summary>
    /// A boundary derived from the content, not random: the same request always serializes to the same bytes, so a
    /// caller that repeats a call with its own Idempotency-Key (e.g. after a restart) gets the stored answer instead of
    /// 422 idempotency-conflict. A hash of the parts practically never occurs inside them.
    /// </summary>
    private static string Boundary(IReadOnlyList<CaptureImage> images, byte[]? metadataJson)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var image in images)
        {
            ArgumentNullException.ThrowIfNull(image, nameof(images));
            hash.AppendData(Encoding.UTF8.GetBytes(PartFileName(image) + "\n" + image.EffectiveContentType + "\n" + image.Content.Length + "\n"));
            hash.AppendData(image.Content.Span);
        }
        if (metadataJson is not null) hash.AppendData(metadataJson);
        return "entrupy-" + Convert.ToHexStringLower(hash.GetHashAndReset())[..40];
    }
}

/// <summary>
/// Sends requests with the API key, an idempotency key on every POST (the same on each retry), a per-attempt timeout,
/// and retries with exponential backoff and jitter on transient failures only.
/// </summary>
internal sealed class ApiTransport : IDisposable
{
    private readonly HttpClient http;
    private readonly bool ownsHttp;

    public ApiTransport(HttpClient? http, EntrupyClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Clone();
        Options.Validate();
        if (http is null)
        {
            // Our own per-attempt timeout applies; HttpClient's would cut across retries.
            this.http = Options.Handler is { } handler
                ? new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan }
                : new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            ownsHttp = true;
        }
        else
        {
            this.http = http;
        }
        var root = Options.BaseAddress.AbsoluteUri;
        BaseUri = root.EndsWith('/') ? root[..^1] : root;
    }

    public EntrupyClientOptions Options { get; }

    /// <summary>The base address without a trailing slash; routes (which start with '/') are appended.</summary>
    private string BaseUri { get; }

    /// <summary>Sends and deserializes the JSON answer.</summary>
    public async Task<T> SendAsync<T>(HttpMethod method, string pathAndQuery, RequestBody? body, RequestOptions? request, CancellationToken ct)
    {
        using var response = await SendAsync(method, pathAndQuery, body, request, ct).ConfigureAwait(false);
        return await ReadJsonAsync<T>(response, ct).ConfigureAwait(false);
    }

    /// <summary>Sends and returns the answer's body as text.</summary>
    public async Task<string> SendForStringAsync(HttpMethod method, string pathAndQuery, CancellationToken ct)
    {
        using var response = await SendAsync(method, pathAndQuery, null, null, ct).ConfigureAwait(false);
        return await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Sends with retries; returns a successful, fully buffered response or throws.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathAndQuery, RequestBody? body, RequestOptions? request, CancellationToken ct)
    {
        var uri = new Uri(BaseUri + pathAndQuery, UriKind.Absolute);
        var idempotencyKey = method == HttpMethod.Post ? ValidIdempotencyKey(request?.IdempotencyKey) : null;
        var attempts = 0;
        var retries = 0;
        long? inProgressSince = null;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            attempts++;
            var isLast = retries >= Options.MaxRetries;
            using var message = new HttpRequestMessage(method, uri);
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Options.ApiKey);
            message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            message.Headers.TryAddWithoutValidation("User-Agent", Options.UserAgent);
            if (idempotencyKey is not null) message.Headers.TryAddWithoutValidation(ApiRoutes.IdempotencyKeyHeader, idempotencyKey);
            if (body is not null)
            {
                message.Content = new ByteArrayContent(body.Bytes);
                message.Content.Headers.TryAddWithoutValidation("Content-Type", body.ContentType);
            }

            using var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (Options.Timeout != Timeout.InfiniteTimeSpan) attemptCts.CancelAfter(Options.Timeout);
            HttpResponseMessage response;
            try
            {
                // ResponseContentRead: the body is read within the attempt, under its timeout.
                response = await http.SendAsync(message, HttpCompletionOption.ResponseContentRead, attemptCts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                var timeout = new TimeoutException($"No answer from {uri.GetLeftPart(UriPartial.Path)} within {Options.Timeout}.", e);
                if (isLast) throw new EntrupyUnreachableException(Options.BaseAddress, attempts, timeout);
                await Task.Delay(Backoff(retries++), ct).ConfigureAwait(false);
                continue;
            }
            catch (HttpRequestException e)
            {
                // Connection refused, DNS failure, connection reset: safe to repeat, the idempotency key guards POSTs.
                if (isLast) throw new EntrupyUnreachableException(Options.BaseAddress, attempts, e);
                await Task.Delay(Backoff(retries++), ct).ConfigureAwait(false);
                continue;
            }

            if (response.IsSuccessStatusCode) return response;

            EntrupyApiException error;
            using (response)
            {
                error = await ProblemReader.ReadAsync(response, ct).ConfigureAwait(false);
            }
            if (error.Kind == EntrupyProblemTypes.IdempotencyInProgress && idempotencyKey is not null)
            {
                // The first request with this key is running and will store its answer: waiting for it is not a failed
                // attempt, so it does not use up MaxRetries. It may take as long as one attempt is allowed to.
                inProgressSince ??= TimeProvider.System.GetTimestamp();
                if (TimeProvider.System.GetElapsedTime(inProgressSince.Value) < InProgressBudget)
                {
                    var poll = Backoff(0);
                    if (error.RetryAfter is { } hint && hint > poll) poll = hint;
                    if (poll > Options.MaxRetryAfter) throw error;
                    await Task.Delay(poll, ct).ConfigureAwait(false);
                    continue;
                }
            }
            if (!error.IsTransient || isLast) throw error;
            var wait = Backoff(retries++);
            if (error.RetryAfter is { } retryAfter)
            {
                if (retryAfter > Options.MaxRetryAfter) throw error;
                if (retryAfter > wait) wait = retryAfter;
            }
            await Task.Delay(wait, ct).ConfigureAwait(false);
        }
    }

    /// <summary>How long duplicates wait for a request with the same key that is still running: one attempt's timeout (10 min if infinite).</summary>
    private TimeSpan InProgressBudget => Options.Timeout == Timeout.InfiniteTimeSpan ? TimeSpan.FromMinutes(10) : Options.Timeout;

    /// <summary>Exponential backoff with equal jitter: half fixed, half random, so a crowd of clients spreads out.</summary>
    internal TimeSpan Backoff(int attempt)
    {
        var ticks = Options.InitialBackoff.Ticks * Math.Pow(2, Math.Min(attempt, 30));
        var capped = Math.Min(ticks, Options.MaxBackoff.Ticks);
        return TimeSpan.FromTicks((long)(capped * (0.5 + Random.Shared.NextDouble() * 0.5)));
    }

    public static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return await JsonSerializer.DeserializeAsync<T>(stream, ApiJson.Options, ct).ConfigureAwait(false)
                    ?? throw new JsonException("The response body is empty or null.");
            }
        }
        catch (JsonException e)
        {
            throw new EntrupyApiException((int)response.StatusCode, "about:blank", "The response body could not be read.",
                $"Expected a JSON {typeof(T).Name}: {e.Message}", innerException: e);
        }
    }

    private static string ValidIdempotencyKey(string? key)
    {
        if (key is null) return Guid.NewGuid().ToString("D");
        if (key.Length is 0 or > 255 || key.Any(c => c is < (char)0x21 or > (char)0x7E))
            throw new ArgumentException("An Idempotency-Key is 1-255 printable ASCII characters without spaces.", nameof(key));
        return key;
    }

    public void Dispose()
    {
        if (ownsHttp) http.Dispose();
    }
}

/// <summary>Turns an error response into an <see cref="EntrupyApiException"/>.</summary>
internal static class ProblemReader
{
    private const int MaxDetailChars = 500;

    public static async Task<EntrupyApiException> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var retryAfter = RetryAfter(response);
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        var mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
        if (mediaType.EndsWith("json", StringComparison.OrdinalIgnoreCase) && TryParseObject(text) is { } problem)
        {
            return new EntrupyApiException(
                status,
                String(problem, "type") ?? "about:blank",
                String(problem, "title") ?? response.ReasonPhrase ?? $"HTTP {status}",
                String(problem, "detail"),
                String(problem, "instance"),
                String(problem, "trace_id") ?? String(problem, "traceId"),
                retryAfter,
                problem);
        }
        // A body that is not a problem (a proxy's HTML page, plain text): keep its start for the message.
        var detail = string.IsNullOrWhiteSpace(text) ? null : Truncate(text.Trim());
        return new EntrupyApiException(status, "about:blank", response.ReasonPhrase ?? $"HTTP {status}", detail, retryAfter: retryAfter);
    }

    private static JsonElement? TryParseObject(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object ? doc.RootElement.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? String(JsonElement problem, string name)
        => problem.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta;
        if (header?.Date is { } date)
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }

    private static string Truncate(string text)
    {
        if (text.Length <= MaxDetailChars) return text;
        var sb = new StringBuilder(text, 0, MaxDetailChars, MaxDetailChars + 1);
        return sb.Append('…').ToString();
    }
}
