using System.Net;
using System.Text.Json;

namespace Entrupy.Client;

/// <summary>
/// The silo answered with an error status. Fields come from the RFC 9457 <c>application/problem+json</c> body; for any
/// other body (e.g. a proxy's HTML page) <see cref="Type"/> is <c>about:blank</c>, <see cref="Title"/> the reason phrase
/// and <see cref="Detail"/> the start of the body text.
/// </summary>
public class EntrupyApiException : Exception
{
    /// <summary>Creates the exception from the parts of a problem.</summary>
    /// <param name="status">HTTP status code.</param>
    /// <param name="type">Problem type URI.</param>
    /// <param name="title">Short summary of the kind.</param>
    /// <param name="detail">Explanation of this occurrence.</param>
    /// <param name="instance">URI of this occurrence.</param>
    /// <param name="traceId">Server trace id, to find the request in the silo's log.</param>
    /// <param name="retryAfter">The <c>Retry-After</c> the server sent, if any.</param>
    /// <param name="problem">The whole problem document, with any extension members.</param>
    /// <param name="innerException">The cause, if any.</param>
    public EntrupyApiException(int status, string type, string title, string? detail = null, string? instance = null,
        string? traceId = null, TimeSpan? retryAfter = null, JsonElement? problem = null, Exception? innerException = null)
        : base(BuildMessage(status, title, detail), innerException)
    {
        Status = status;
        Type = type;
        Title = title;
        Detail = detail;
        Instance = instance;
        TraceId = traceId;
        RetryAfter = retryAfter;
        Problem = problem;
    }

    /// <summary>HTTP status code.</summary>
    public int Status { get; }

    /// <summary>Problem type URI, stable per kind (e.g. <c>https://errors.entrupy.dev/not-found</c>; see <see cref="EntrupyProblemTypes"/>).</summary>
    public string Type { get; }

    /// <summary>Short human-readable summary of the kind.</summary>
    public string Title { get; }

    /// <summary>Human-readable explanation of this occurrence.</summary>
    public string? Detail { get; }

    /// <summary>URI of this occurrence (usually the request path).</summary>
    public string? Instance { get; }

    /// <summary>The server's trace id: quote it when reporting a 500.</summary>
    public string? TraceId { get; }

    /// <summary>How long the server asked the client to wait before retrying, if it said.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The problem document as received (extension members such as <c>field</c>, <c>rule</c> included); null for a non-JSON body.</summary>
    public JsonElement? Problem { get; }

    /// <summary>The last path segment of <see cref="Type"/>, e.g. <c>not-found</c>.</summary>
    public string Kind => EntrupyProblemTypes.KindOf(Type);

    /// <summary>True for failures worth retrying later (408, 429, 502, 503, 504, 409 idempotency-in-progress): the client gave up after its own retries.</summary>
    public bool IsTransient => IsTransientStatus(Status, Type);

    /// <summary>Reads a string extension member of the problem (e.g. <c>field</c>), or null.</summary>
    /// <param name="name">Member name as on the wire (snake_case).</param>
    public string? GetExtension(string name)
        => Problem is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty(name, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()
            : null;

    internal static bool IsTransientStatus(int status, string type) => status switch
    {
        (int)HttpStatusCode.RequestTimeout or (int)HttpStatusCode.TooManyRequests or (int)HttpStatusCode.BadGateway
            or (int)HttpStatusCode.ServiceUnavailable or (int)HttpStatusCode.GatewayTimeout => true,
        // Another attempt with the same key is still running; once it ends the stored answer is replayed.
        (int)HttpStatusCode.Conflict => EntrupyProblemTypes.KindOf(type) == EntrupyProblemTypes.IdempotencyInProgress,
        _ => false,
    };

    private static string BuildMessage(int status, string title, string? detail)
        => string.IsNullOrEmpty(detail) ? $"{status} {title}" : $"{status} {title} {detail}";
}

/// <summary>The silo could not be reached: refused connection, DNS failure, or no answer within the timeout, on every attempt.</summary>
public sealed class EntrupyUnreachableException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="baseAddress">Where the client tried to connect.</param>
    /// <param name="attempts">How many attempts were made.</param>
    /// <param name="innerException">The last attempt's failure.</param>
    public EntrupyUnreachableException(Uri baseAddress, int attempts, Exception? innerException)
        : base($"The registry at {baseAddress} could not be reached after {attempts} attempt(s): {innerException?.Message}", innerException)
    {
        BaseAddress = baseAddress;
        Attempts = attempts;
    }

    /// <summary>Where the client tried to connect.</summary>
    public Uri BaseAddress { get; }

    /// <summary>How many attempts were made.</summary>
    public int Attempts { get; }

    /// <summary>True when the last attempt ran out of time (rather than failing to connect).</summary>
    public bool TimedOut => InnerException is TimeoutException;
}

/// <summary>Problem <c>type</c> kinds the silo sends (the last segment of <c>https://errors.entrupy.dev/&lt;kind&gt;</c>).</summary>
public static class EntrupyProblemTypes
{
    /// <summary>Common prefix of the silo's problem type URIs.</summary>
    public const string TypeBase = "https://errors.entrupy.dev/";

    /// <summary>400: malformed JSON, missing or invalid field.</summary>
    public const string InvalidRequest = "invalid-request";

    /// <summary>400: an id in the path is not well-formed.</summary>
    public const string InvalidId = "invalid-id";

    /// <summary>401: no key, unknown or revoked key.</summary>
    public const string Unauthorized = "unauthorized";

    /// <summary>403: the key may not do this.</summary>
    public const string Forbidden = "forbidden";

    /// <summary>404: no such resource for this tenant.</summary>
    public const string NotFound = "not-found";

    /// <summary>409: a request with the same Idempotency-Key is still running (retried by the client).</summary>
    public const string IdempotencyInProgress = "idempotency-in-progress";

    /// <summary>409: the item is a linked temporary item and accepts no more changes.</summary>
    public const string ItemLinked = "item-linked";

    /// <summary>413: body or image count over the silo's limits.</summary>
    public const string PayloadTooLarge = "payload-too-large";

    /// <summary>422: the Idempotency-Key was used before with a different request.</summary>
    public const string IdempotencyConflict = "idempotency-conflict";

    /// <summary>422: a capture failed the quality checks (blur, exposure, size).</summary>
    public const string CaptureRejected = "capture-rejected";

    /// <summary>429: the key's rate limit is exhausted.</summary>
    public const string RateLimited = "rate-limited";

    /// <summary>The kind of a type URI: its last path segment (<c>about:blank</c> stays as is).</summary>
    /// <param name="type">Problem type URI.</param>
    public static string KindOf(string? type)
    {
        if (string.IsNullOrEmpty(type)) return "";
        var slash = type.LastIndexOf('/');
        return slash >= 0 && slash < type.Length - 1 ? type[(slash + 1)..] : type;
    }
}
