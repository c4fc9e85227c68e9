using System.Buffers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Orleans;
using Entrupy.Tenancy;
using Microsoft.Extensions.Options;

namespace Entrupy.Silo.Api;

/// <summary>Marks an endpoint whose POSTs need an <c>Idempotency-Key</c>; see <see cref="IdempotencyExtensions.RequireIdempotencyKey{TBuilder}"/>.</summary>
public sealed class IdempotentEndpointMetadata;

/// <summary>Opts endpoints into idempotent POST handling.</summary>
public static class IdempotencyExtensions
{
    /// <summary>The request header.</summary>
    public const string KeyHeader = "Idempotency-Key";

    /// <summary>The response header set on replays.</summary>
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>
    /// POSTs to these endpoints must carry an <c>Idempotency-Key</c> (1–255 printable characters). A retry with the same
    /// key and body gets the first response back (with <c>Idempotent-Replayed: true</c>) without running again; the
    /// same key with another body gets 422; a retry while the first is still running gets 409.
    /// Responses with status 5xx are not kept, so the client may retry them.
    /// </summary>
    public static TBuilder RequireIdempotencyKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new IdempotentEndpointMetadata());
}

/// <summary>Runs after authentication and authorization; engages for POSTs to endpoints with <see cref="IdempotentEndpointMetadata"/>.</summary>
internal sealed class IdempotencyMiddleware(RequestDelegate next, IGrainFactory grains, IOptions<IdempotencyOptions> options, TimeProvider clock,
    ILogger<IdempotencyMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || context.GetEndpoint()?.Metadata.GetMetadata<IdempotentEndpointMetadata>() is null)
        {
            await next(context);
            return;
        }
        var key = context.Request.Headers[IdempotencyExtensions.KeyHeader].ToString();
        if (key.Length == 0)
            throw new ApiException(ApiErrorKind.IdempotencyKeyMissing, $"Send an '{IdempotencyExtensions.KeyHeader}' header (e.g. a UUID) with every POST so retries are safe.");
        if (key.Length > 255 || key.Any(c => c < 0x21 || c > 0x7e))
            throw new ApiException(ApiErrorKind.InvalidRequest, $"'{IdempotencyExtensions.KeyHeader}' must be 1-255 printable ASCII characters.");

        // Keys are per tenant (or per admin), so tenants cannot collide or probe each other's keys.
        var scope = context.User.FindFirstValue(ApiAuth.TenantClaim) ?? (context.User.IsInRole(ApiAuth.AdminRole) ? "admin" : "anonymous");
        var grain = grains.GetGrain<IIdempotencyGrain>(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(scope + "\n" + key))));

        var timing = ServerTiming.Of(context);
        var body = await timing.Time("receive", () => RequestBodyBuffer.ReadAsync(context));
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hasher.AppendData(Encoding.UTF8.GetBytes(context.Request.Method + " " + context.Request.Path + context.Request.QueryString + "\n"));
        hasher.AppendData(body.Span);
        var requestHash = Convert.ToHexStringLower(hasher.GetHashAndReset());

        var now = clock.GetUtcNow();
        var decision = await timing.Time("idempotency", () => grain.Begin(requestHash, now, options.Value.InProgressTimeout));
        switch (decision.Outcome)
        {
            case IdempotencyOutcome.Replay:
                await ReplayAsync(context, decision.Response!);
                return;
            case IdempotencyOutcome.Mismatch:
                throw new ApiException(ApiErrorKind.IdempotencyConflict, $"This '{IdempotencyExtensions.KeyHeader}' was already used with a different request; use a new key for a new request.");
            case IdempotencyOutcome.InProgress:
                context.Response.Headers.RetryAfter = "1";
                throw new ApiException(ApiErrorKind.IdempotencyInProgress, "The first request with this key is still running; retry shortly to get its result.");
        }

        var original = context.Response.Body;
        using var capture = new MemoryStream();
        context.Response.Body = capture;
        try
        {
            await next(context);
        }
        catch
        {
            context.Response.Body = original;
            await grain.Abandon(requestHash);
            throw;
        }
        context.Response.Body = original;

        var response = context.Response;
        // An aborted request may have left a cut-off body in the capture; storing it would replay a broken answer
        // forever. Not storing it is safe: the item endpoints are idempotent by request id, so the retry re-runs.
        Task recording;
        if (response.StatusCode < 500 && !context.RequestAborted.IsCancellationRequested)
        {
            // The record is written while the answer goes out rather than before: one durable write (~1 ms, up to ~10
            // under load) off every POST's latency. Nothing is weaker for it. The grain holds the response from this
            // call on, so a retry arriving meanwhile waits for the write and then replays it; and a crash before the
            // write lands lets a retry run again, exactly as a crash just before this line always could.
            recording = grain.Complete(requestHash,
                new StoredResponse(response.StatusCode, response.ContentType, response.Headers.Location.ToString() is { Length: > 0 } l ? l : null, capture.ToArray()),
                now + options.Value.Retention);
        }
        else
        {
            recording = grain.Abandon(requestHash);
        }
        try
        {
            // Ends the response now (the client has all of it) instead of when this pipeline returns. An empty body is
            // left open: the status-code-pages middleware further out may still write a problem into it.
            if (capture.Length > 0)
            {
                capture.Position = 0;
                response.ContentLength = capture.Length;
                await capture.CopyToAsync(original, context.RequestAborted);
                await response.CompleteAsync();
            }
        }
        finally
        {
            await ObserveAsync(recording, key);
        }
    }

    /// <summary>Waits for the record; a failure is logged, not thrown: the answer is already on its way to the client.</summary>
    private async Task ObserveAsync(Task recording, string key)
    {
        try
        {
            await recording;
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "The response to Idempotency-Key '{Key}' was sent but could not be kept for replay; a retry will run the request again", key);
        }
    }

    private static async Task ReplayAsync(HttpContext context, StoredResponse stored)
    {
        context.Response.StatusCode = stored.Status;
        if (stored.ContentType is not null) context.Response.ContentType = stored.ContentType;
        if (stored.Location is not null) context.Response.Headers.Location = stored.Location;
        context.Response.Headers[IdempotencyExtensions.ReplayedHeader] = "true";
        await context.Response.Body.WriteAsync(stored.Body, context.RequestAborted);
    }
}

/// <summary>
/// Reads a request body once into pooled memory and puts a seekable stream over it in its place: the idempotency
/// hash reads it there, and the multipart reader then references each file part by offset instead of buffering it
/// again. (ASP.NET's own buffering spills anything over 30 KB — most captures — to a temporary file, and the form
/// reader spills every part over 64 KB to another: two disk round trips per image.)
/// </summary>
internal static class RequestBodyBuffer
{
    /// <summary>The body's bytes, valid until the response is done (the array goes back to the pool then).</summary>
    /// <remarks>Kestrel's request-size cap still applies: the bytes are read through the original body stream.</remarks>
    public static async Task<ReadOnlyMemory<byte>> ReadAsync(HttpContext context)
    {
        var request = context.Request;
        var declared = request.ContentLength;
        var buffer = ArrayPool<byte>.Shared.Rent(declared is > 0 and < int.MaxValue ? (int)declared : 16 * 1024);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(checked(buffer.Length * 2));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted);
                if (read == 0) break;
                length += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
        var rented = buffer;
        context.Response.RegisterForDispose(new ReturnToPool(rented));
        request.Body = new MemoryStream(rented, 0, length, writable: false, publiclyVisible: true);
        return rented.AsMemory(0, length);
    }

    private sealed class ReturnToPool(byte[] array) : IDisposable
    {
        public void Dispose() => ArrayPool<byte>.Shared.Return(array);
    }
}
