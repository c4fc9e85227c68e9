using Orleans;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;
using Entrupy.Registry;
using Microsoft.AspNetCore.Diagnostics;

namespace Entrupy.Silo.Api;

/// <summary>One kind of error the API reports: a stable <c>type</c> URI, its HTTP status and a title.</summary>
/// <param name="Slug">Last segment of the type URI, e.g. <c>not-found</c>.</param>
/// <param name="Status">HTTP status code.</param>
/// <param name="Title">Short, stable human-readable summary.</param>
public sealed record ApiErrorKind(string Slug, int Status, string Title)
{
    /// <summary>Base of every error type URI.</summary>
    public const string TypeBase = "https://errors.entrupy.dev/";

    /// <summary>The RFC 9457 <c>type</c> URI.</summary>
    public string Type => TypeBase + Slug;

    /// <summary>The request is malformed: bad JSON, a missing or invalid field or header.</summary>
    public static readonly ApiErrorKind InvalidRequest = new("invalid-request", 400, "The request is invalid.");
    /// <summary>An identifier in the path or body is not well-formed.</summary>
    public static readonly ApiErrorKind InvalidId = new("invalid-id", 400, "The identifier is not valid.");
    /// <summary>A mutation was sent without an <c>Idempotency-Key</c> header.</summary>
    public static readonly ApiErrorKind IdempotencyKeyMissing = new("idempotency-key-missing", 400, "An Idempotency-Key header is required.");
    /// <summary>No key, an unknown key or a revoked key.</summary>
    public static readonly ApiErrorKind Unauthorized = new("unauthorized", 401, "A valid API key is required.");
    /// <summary>The key is valid but may not do this.</summary>
    public static readonly ApiErrorKind Forbidden = new("forbidden", 403, "The API key may not perform this operation.");
    /// <summary>The admin endpoints are switched off because no bootstrap key is configured.</summary>
    public static readonly ApiErrorKind AdminDisabled = new("admin-disabled", 403, "The admin endpoints are disabled.");
    /// <summary>No such resource (for this tenant).</summary>
    public static readonly ApiErrorKind NotFound = new("not-found", 404, "The resource was not found.");
    /// <summary>The route exists but not with this method.</summary>
    public static readonly ApiErrorKind MethodNotAllowed = new("method-not-allowed", 405, "The method is not allowed on this resource.");
    /// <summary>The state changed under the request (e.g. an ETag conflict); re-read and retry.</summary>
    public static readonly ApiErrorKind Conflict = new("conflict", 409, "The request conflicts with the current state.");
    /// <summary>A request with the same Idempotency-Key is still being processed.</summary>
    public static readonly ApiErrorKind IdempotencyInProgress = new("idempotency-in-progress", 409, "A request with this Idempotency-Key is in progress.");
    /// <summary>The body is larger than the configured cap, or carries too many images.</summary>
    public static readonly ApiErrorKind PayloadTooLarge = new("payload-too-large", 413, "The request payload is too large.");
    /// <summary>The body is not in a supported media type.</summary>
    public static readonly ApiErrorKind UnsupportedMediaType = new("unsupported-media-type", 415, "The media type is not supported.");
    /// <summary>The Idempotency-Key was used before with a different request.</summary>
    public static readonly ApiErrorKind IdempotencyConflict = new("idempotency-conflict", 422, "The Idempotency-Key was already used with a different request.");
    /// <summary>The key's rate limit is exhausted; see Retry-After.</summary>
    public static readonly ApiErrorKind RateLimited = new("rate-limited", 429, "Too many requests.");
    /// <summary>An unexpected failure; details are in the server log under the trace id.</summary>
    public static readonly ApiErrorKind Internal = new("internal", 500, "An internal error occurred.");
    /// <summary>The grain store cannot be reached right now; retry later.</summary>
    public static readonly ApiErrorKind StorageUnavailable = new("storage-unavailable", 503, "The storage backend is unavailable.");
    /// <summary>An internal call did not answer in time.</summary>
    public static readonly ApiErrorKind Timeout = new("timeout", 504, "The operation timed out.");
    /// <summary>A capture failed the quality gate (or is not an image); the problem names the image and how to retake it.</summary>
    public static readonly ApiErrorKind CaptureRejected = new("capture-rejected", 422, "A capture was rejected.");
    /// <summary>The item is a temporary id linked to a permanent one and accepts no more changes.</summary>
    public static readonly ApiErrorKind ItemLinked = new("item-linked", 409, "The item is linked to another item.");
    /// <summary>The item's stored custody history does not verify against its hash chain: it was changed outside the registry.</summary>
    public static readonly ApiErrorKind CustodyChainTampered = new("custody-chain-tampered", 500, "The item's custody history failed verification.");

    /// <summary>Every kind, for documentation and tests.</summary>
    public static IReadOnlyList<ApiErrorKind> All { get; } =
    [
        InvalidRequest, InvalidId, IdempotencyKeyMissing, Unauthorized, Forbidden, AdminDisabled, NotFound, MethodNotAllowed,
        Conflict, IdempotencyInProgress, PayloadTooLarge, UnsupportedMediaType, IdempotencyConflict, RateLimited, Internal,
        StorageUnavailable, Timeout,
        // After the generic kinds, so ForStatus keeps answering 409/422/500 with those.
        CaptureRejected, ItemLinked, CustodyChainTampered,
    ];

    /// <summary>The kind used for a bare status code (e.g. a routing 404 or a binding 400).</summary>
    public static ApiErrorKind ForStatus(int status) => All.FirstOrDefault(k => k.Status == status) ?? (status >= 500 ? Internal : InvalidRequest);
}

/// <summary>Thrown by endpoints and helpers to answer with a specific problem; the exception handler writes it.</summary>
public sealed class ApiException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ApiException(ApiErrorKind kind, string detail) : base(detail) => Kind = kind;

    /// <summary>Creates the exception with extra members for the problem body (snake_case names, JSON-serializable values).</summary>
    public ApiException(ApiErrorKind kind, string detail, IReadOnlyDictionary<string, object?> extensions) : base(detail)
    {
        Kind = kind;
        Extensions = extensions;
    }

    /// <summary>The kind of error.</summary>
    public ApiErrorKind Kind { get; }

    /// <summary>Extra members of the problem body, e.g. the rejected captures; null when there are none.</summary>
    public IReadOnlyDictionary<string, object?>? Extensions { get; }
}

/// <summary>Writes RFC 9457 <c>application/problem+json</c> responses; the single exception → problem mapping.</summary>
public static class ApiProblems
{
    /// <summary>Builds the problem result for <paramref name="kind"/>, with optional extra members.</summary>
    public static IResult Result(HttpContext context, ApiErrorKind kind, string? detail, IReadOnlyDictionary<string, object?>? extensions = null) =>
        Results.Problem(
            type: kind.Type,
            title: kind.Title,
            statusCode: kind.Status,
            detail: detail,
            instance: context.Request.Path,
            extensions: extensions);

    /// <summary>Writes the problem for <paramref name="kind"/> to the response.</summary>
    public static Task WriteAsync(HttpContext context, ApiErrorKind kind, string? detail, IReadOnlyDictionary<string, object?>? extensions = null) =>
        Result(context, kind, detail, extensions).ExecuteAsync(context);

    /// <summary>The kind and client-safe detail for an exception. Unknown exceptions reveal nothing; the response's <c>trace_id</c> finds them in the log.</summary>
    public static (ApiErrorKind Kind, string Detail) Map(Exception exception)
    {
        var (kind, detail, _) = MapWithExtensions(exception);
        return (kind, detail);
    }

    /// <summary>As <see cref="Map"/>, plus the problem's extra members (the broken rule and field of a validation error, the rejected captures, …).</summary>
    public static (ApiErrorKind Kind, string Detail, IReadOnlyDictionary<string, object?>? Extensions) MapWithExtensions(Exception exception) => Unwrap(exception) switch
    {
        ApiException e => (e.Kind, e.Message, e.Extensions),
        // Registry rules are client-facing by design: their messages quote the field, the value (capped) and the rule.
        InvalidIdentifierException e => (ApiErrorKind.InvalidId, e.Message, RuleMembers(e)),
        RegistryValidationException e => (ApiErrorKind.InvalidRequest, e.Message, RuleMembers(e)),
        RegistryNotFoundException e => (ApiErrorKind.NotFound, e.Message, null),
        ItemLinkedException e => (ApiErrorKind.ItemLinked, e.Message, new Dictionary<string, object?> { ["linked_to"] = e.LinkedTo }),
        RegistryConflictException e => (ApiErrorKind.Conflict, e.Message, null),
        CaptureRejectedException e => (ApiErrorKind.CaptureRejected, e.Message, new Dictionary<string, object?>
        {
            ["rejections"] = e.Rejections.Select(r => new Items.CaptureRejectionDetail(r.Index, r.Reason, r.Message, r.Quality)).ToArray(),
        }),
        CustodyChainTamperedException e => (ApiErrorKind.CustodyChainTampered,
            $"The custody history of this item does not verify (event #{e.Sequence} {e.Reason}); it was changed outside the registry. " +
            "The item is unavailable until its history is restored from a trusted copy.",
            new Dictionary<string, object?> { ["sequence"] = e.Sequence, ["event_id"] = e.EventId }),
        var other => WithoutExtensions(MapInfrastructure(other)),
    };

    private static (ApiErrorKind, string, IReadOnlyDictionary<string, object?>?) WithoutExtensions((ApiErrorKind Kind, string Detail) mapped) =>
        (mapped.Kind, mapped.Detail, null);

    private static (ApiErrorKind Kind, string Detail) MapInfrastructure(Exception exception) => exception switch
    {
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => (ApiErrorKind.PayloadTooLarge, "The request body exceeds the configured limit (Limits:MaxRequestBodyBytes)."),
        BadHttpRequestException e => (ApiErrorKind.ForStatus(e.StatusCode), e.Message),
        StorageUnavailableException => (ApiErrorKind.StorageUnavailable, "The grain store did not answer; retry later."),
        // Orleans' Azure Blob provider lets the Azure SDK's errors through: an outage (no answer, 5xx, throttling)
        // may pass; anything else (403 on a wrong key, 404 on a missing container) is a deployment error.
        Azure.RequestFailedException { Status: 0 or 408 or 429 or >= 500 } or HttpRequestException or System.Net.Sockets.SocketException
            => (ApiErrorKind.StorageUnavailable, "The grain store did not answer; retry later."),
        { InnerException: { } inner } when MapInfrastructure(inner).Kind == ApiErrorKind.StorageUnavailable
            => (ApiErrorKind.StorageUnavailable, "The grain store did not answer; retry later."),
        InconsistentStateException => (ApiErrorKind.Conflict, "The resource was changed concurrently; retry the request."),
        TimeoutException => (ApiErrorKind.Timeout, "An internal call timed out; retry later."),
        _ => (ApiErrorKind.Internal, "An unexpected error occurred; quote the trace_id when reporting it."),
    };

    private static Dictionary<string, object?> RuleMembers(RegistryValidationException e) => new() { ["field"] = e.Field, ["rule"] = e.Rule };

    // Fan-outs (Task.WhenAll over grains) surface an AggregateException; the first inner one says what went wrong.
    private static Exception Unwrap(Exception exception)
    {
        while (exception is AggregateException { InnerExceptions.Count: > 0 } aggregate) exception = aggregate.InnerExceptions[0];
        return exception;
    }
}

/// <summary>Turns any exception escaping an endpoint into a problem response (no stack traces reach clients).</summary>
internal sealed class ProblemExceptionHandler(ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (kind, detail, extensions) = ApiProblems.MapWithExtensions(exception);
        if (kind.Status >= 500) logger.LogError(exception, "request {Path} failed: {Kind}", httpContext.Request.Path.Value, kind.Slug);
        if (kind == ApiErrorKind.StorageUnavailable) httpContext.Response.Headers.RetryAfter = "5";
        await ApiProblems.WriteAsync(httpContext, kind, detail, extensions);
        return true;
    }
}
