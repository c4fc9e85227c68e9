using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Entrupy.Silo.Api;

/// <summary>Caps on request size and on images per multipart request, for endpoints to call.</summary>
public static class UploadLimits
{
    /// <summary>
    /// Reads a multipart form and checks its image count against <c>Limits:MaxImagesPerRequest</c>.
    /// Throws an <see cref="ApiException"/> (413 payload-too-large) when there are too many files, 415 when the body is not
    /// multipart. The body size itself is already capped by <c>Limits:MaxRequestBodyBytes</c>.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The form's files.</returns>
    public static async Task<IFormFileCollection> ReadImagesAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!request.HasFormContentType)
            throw new ApiException(ApiErrorKind.UnsupportedMediaType, "Send the images as multipart/form-data.");
        var limits = request.HttpContext.RequestServices.GetRequiredService<IOptions<LimitOptions>>().Value;
        var form = await request.ReadFormAsync(cancellationToken);
        EnsureImageCount(form.Files.Count, limits.MaxImagesPerRequest);
        return form.Files;
    }

    /// <summary>Throws 413 payload-too-large when <paramref name="count"/> exceeds <paramref name="maximum"/>.</summary>
    public static void EnsureImageCount(int count, int maximum)
    {
        if (count > maximum)
            throw new ApiException(ApiErrorKind.PayloadTooLarge, $"The request carries {count} images; at most {maximum} are accepted per request (Limits:MaxImagesPerRequest).");
    }
}

/// <summary>Answers 413 before reading when Content-Length already exceeds the cap (chunked bodies are cut by Kestrel).</summary>
internal sealed class BodySizeCapMiddleware(RequestDelegate next, IOptions<LimitOptions> options)
{
    public Task InvokeAsync(HttpContext context)
    {
        var max = options.Value.MaxRequestBodyBytes;
        if (context.Request.ContentLength is { } length && length > max)
        {
            // The body is not read: close the connection instead of draining it.
            context.Response.Headers.Connection = "close";
            return ApiProblems.WriteAsync(context, ApiErrorKind.PayloadTooLarge,
                $"The request body is {length} bytes; the limit is {max} bytes (Limits:MaxRequestBodyBytes).");
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = max;
        return next(context);
    }
}

/// <summary>Per-key token-bucket rate limiting with ASP.NET Core's rate limiter.</summary>
internal static class RateLimiting
{
    public static IServiceCollection AddApiRateLimiting(this IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                var path = context.Request.Path;
                if (path.StartsWithSegments("/health") || path.StartsWithSegments("/openapi"))
                    return RateLimitPartition.GetNoLimiter("unlimited");
                // Authenticated callers are limited per key; others per address (slows key guessing).
                var partition = context.User.FindFirst(ApiAuth.KeyIdClaim)?.Value is { } keyId
                    ? "key:" + keyId
                    : "ip:" + context.Connection.RemoteIpAddress;
                var options = context.RequestServices.GetRequiredService<IOptionsMonitor<RateLimitOptions>>().CurrentValue;
                return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = options.TokenLimit,
                    TokensPerPeriod = options.TokensPerPeriod,
                    ReplenishmentPeriod = options.ReplenishmentPeriod,
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (rejected, ct) =>
            {
                var context = rejected.HttpContext;
                var options = context.RequestServices.GetRequiredService<IOptionsMonitor<RateLimitOptions>>().CurrentValue;
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : options.ReplenishmentPeriod;
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await ApiProblems.WriteAsync(context, ApiErrorKind.RateLimited,
                    $"This key's rate limit ({options.TokenLimit} requests burst, {options.TokensPerPeriod} per {options.ReplenishmentPeriod.TotalSeconds:0.###} s) is exhausted; retry after {seconds} s.");
            };
        });
        return services;
    }
}
