using Entrupy.Tenancy;
using Entrupy.Webhooks;
using Entrupy.Inference;
using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Orleans;
using Entrupy.Registry;
using Entrupy.Registry.Api;
using Entrupy.Registry.Inference;
using Entrupy.Silo.Api;
using Entrupy.Silo.Items;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Entrupy.Silo.Authentication;

/// <summary>
/// Asynchronous authentication of items by a brand+material model, and the expert review queue:
/// <c>POST /items/{id}/authentications</c> (202 + status resource), <c>GET /items/{id}/authentications/{authenticationId}</c>,
/// <c>GET /reviews</c> and <c>POST /items/{id}/authentications/{authenticationId}/review</c>.
/// </summary>
public static class AuthenticationApi
{
    /// <summary>Largest page of <c>GET /reviews</c>.</summary>
    public const int MaxReviewPageSize = 500;

    /// <summary>Page size of <c>GET /reviews</c> without <c>limit</c>.</summary>
    public const int DefaultReviewPageSize = 100;

    private const int MaxReviewerLength = 256;
    private const int MaxNoteLength = 2048;

    /// <summary>Adds the job store, the background runner and its options (section <c>AuthenticationJobs</c>).</summary>
    public static IServiceCollection AddAuthenticationJobs(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<AuthenticationJobOptions>(configuration.GetSection("AuthenticationJobs"));
        services.AddSingleton<AuthenticationJobPayloads>();
        services.AddSingleton<AuthenticationJobSignal>();
        services.AddHostedService<AuthenticationJobRunner>();
        return services;
    }

    /// <summary>Maps the authentication and review endpoints (tenant keys only; POSTs need an Idempotency-Key).</summary>
    public static IEndpointRouteBuilder MapAuthenticationEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("")
            .RequireAuthorization(ApiAuth.TenantPolicy)
            .RequireIdempotencyKey()
            .WithTags("authentication");

        api.MapPost(ApiRoutes.Authentications, SubmitAsync)
            .WithName("SubmitAuthentication")
            .Accepts<AuthenticationSubmission>("multipart/form-data")
            .Produces<AuthenticationResult>(StatusCodes.Status202Accepted)
            .Produces<AuthenticationResult>(StatusCodes.Status200OK);
        api.MapGet(ApiRoutes.Authentication, GetAsync)
            .WithName("GetAuthentication")
            .Produces<AuthenticationResult>();
        api.MapGet(ApiRoutes.ReviewQueue, ListReviewsAsync)
            .WithName("ListReviews")
            .Produces<ReviewQueuePage>();
        api.MapPost(ApiRoutes.AuthenticationReview, ReviewAsync)
            .WithName("ReviewAuthentication")
            .Produces<AuthenticationResult>();
        return app;
    }

    private static async Task<IResult> SubmitAsync(string id, HttpRequest request, ClaimsPrincipal user, IGrainFactory grains,
        AuthenticationJobPayloads payloads, AuthenticationJobSignal signal, IOptions<LimitOptions> limits, TimeProvider clock,
        [FromServices] TenantItemDirectory directory, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        RequireItemId(id);
        if (!request.HasFormContentType)
            throw new ApiException(ApiErrorKind.UnsupportedMediaType, $"Send the captures as multipart/form-data: '{ApiRoutes.ImagePart}' file parts and a '{ApiRoutes.MetadataPart}' JSON part.");
        var form = await request.ReadFormAsync(ct);
        var submission = ReadSubmission(form);
        var imageParts = form.Files.Where(f => !string.Equals(f.Name, ApiRoutes.MetadataPart, StringComparison.Ordinal)).ToArray();
        UploadLimits.EnsureImageCount(imageParts.Length, limits.Value.MaxImagesPerRequest);
        if (imageParts.Length == 0)
            throw new ApiException(ApiErrorKind.InvalidRequest, $"Send at least one capture as a '{ApiRoutes.ImagePart}' file part.");
        var images = new byte[imageParts.Length][];
        for (var i = 0; i < imageParts.Length; i++)
        {
            if (imageParts[i].Length == 0) throw new ApiException(ApiErrorKind.InvalidRequest, $"Image part #{i} is empty.");
            images[i] = await ItemRequests.ReadPartAsync(imageParts[i], ct);
        }

        var models = await grains.GetGrain<IAuthenticatorGrain>(0).ListModels();
        var known = string.Join(", ", models.Select(m => m.Id).Order(StringComparer.Ordinal));
        if (string.IsNullOrWhiteSpace(submission.Model))
            throw new ApiException(ApiErrorKind.InvalidRequest, $"'model' is required in the '{ApiRoutes.MetadataPart}' part; known models: {known}.");
        var model = models.FirstOrDefault(m => m.Id == submission.Model)
            ?? throw new ApiException(ApiErrorKind.InvalidRequest, $"Unknown authentication model '{Shorten(submission.Model)}'; known models: {known}.");

        if (submission.AuthenticationId is { } chosen && !ItemKey.IsValidCustomerItemId(chosen))
            throw new ApiException(ApiErrorKind.InvalidRequest,
                $"Invalid authentication_id '{Shorten(chosen)}': it must be 1-128 characters from [A-Za-z0-9._:-] and must not start with '.'.");
        // Without a chosen id, the id follows from the Idempotency-Key, so a retry can never start a second authentication.
        var authenticationId = submission.AuthenticationId ?? DeriveId(tenantId, id, request.Headers[IdempotencyExtensions.KeyHeader].ToString());

        var item = grains.GetItemGrain(tenantId, id);
        // Registry exceptions (a linked item, …) reach the client through the API's single exception mapping.
        var recorded = await item.RecordAuthentication(new AuthenticationRequest
        {
            AuthenticationId = authenticationId,
            Status = AuthenticationStatus.Pending,
            ModelId = model.Id,
            ModelVersion = model.Version,
        });
        if (recorded.ModelId != model.Id)
            throw new ApiException(ApiErrorKind.Conflict, $"Authentication '{authenticationId}' of item '{id}' already exists with model '{recorded.ModelId}'; choose another authentication_id.");
        // An item first seen through an authentication (never registered) is an item of the tenant too: GET /items lists it.
        await directory.RecordAsync(ItemKey.Create(tenantId, id), currentRegistration: null, custodyEvents: null, clock.GetUtcNow());

        var location = ApiRoutes.Format(ApiRoutes.Authentication, id, authenticationId);
        if (recorded.Status != AuthenticationStatus.Pending)
        {
            // A retry of one already decided: its result, as the status resource would show it.
            request.HttpContext.Response.Headers.Location = location;
            return TypedResults.Ok(recorded);
        }

        // Captures first, then the job that points at them: a job in the list always has its captures.
        var jobs = grains.GetGrain<IAuthenticationJobsGrain>(AuthenticationJobsGrain.Key);
        var jobId = AuthenticationJob.MakeId(tenantId, id, authenticationId);
        if (!await jobs.Contains(jobId))
        {
            // Not cancelled when the client goes away: the pending result is recorded, so its job should exist too.
            await payloads.WriteAsync(jobId, images, CancellationToken.None);
            var now = clock.GetUtcNow();
            await jobs.Add(new AuthenticationJob(jobId, tenantId, id, authenticationId, model.Id, images.Length, now, 0, now, null));
            signal.Notify();
        }
        return TypedResults.Accepted(location, recorded);
    }

    private static async Task<IResult> GetAsync(string id, string authenticationId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var tenantId = user.TenantId();
        RequireItemId(id);
        var view = await grains.GetItemGrain(tenantId, id).GetItem();
        var result = view.Authentications.FirstOrDefault(a => a.AuthenticationId == authenticationId)
            ?? throw new ApiException(ApiErrorKind.NotFound, $"Item '{id}' has no authentication '{Shorten(authenticationId)}'.");
        return TypedResults.Ok(result);
    }

    private static async Task<IResult> ListReviewsAsync(ClaimsPrincipal user, IGrainFactory grains, int? limit, string? cursor)
    {
        var size = limit ?? DefaultReviewPageSize;
        if (size is < 1 or > MaxReviewPageSize)
            throw new ApiException(ApiErrorKind.InvalidRequest, $"'limit' must be 1-{MaxReviewPageSize}.");
        var after = cursor is null ? 0 : ParseCursor(cursor);
        var slice = await grains.GetGrain<IReviewQueueGrain>(user.TenantId()).List(after, size);
        return TypedResults.Ok(new ReviewQueuePage
        {
            Entries = [.. slice.Entries.Select(e => new ReviewQueueEntry { CustomerItemId = e.CustomerItemId, Authentication = e.Authentication })],
            NextCursor = slice.NextAfter is { } next ? FormatCursor(next) : null,
        });
    }

    private static async Task<IResult> ReviewAsync(string id, string authenticationId, ReviewRequest review, ClaimsPrincipal user,
        IGrainFactory grains, IWebhookPublisher webhooks, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        RequireItemId(id);
        if (!ItemKey.IsValidCustomerItemId(authenticationId))
            throw new ApiException(ApiErrorKind.NotFound, $"Item '{id}' has no authentication '{Shorten(authenticationId)}'.");
        if (string.IsNullOrWhiteSpace(review.Reviewer) || review.Reviewer.Length > MaxReviewerLength)
            throw new ApiException(ApiErrorKind.InvalidRequest, $"'reviewer' is required: non-blank text of at most {MaxReviewerLength} characters.");
        if (review.Status is not (AuthenticationStatus.Authentic or AuthenticationStatus.NotAuthentic))
            throw new ApiException(ApiErrorKind.InvalidRequest, "'status' must be 'authentic' or 'not_authentic': a review gives the final verdict.");
        if (review.Note is { Length: > MaxNoteLength })
            throw new ApiException(ApiErrorKind.InvalidRequest, $"'note' must be at most {MaxNoteLength} characters.");
        var note = string.IsNullOrWhiteSpace(review.Note) ? null : review.Note;

        // Unknown authentication → 404, not waiting for review → 409 conflict (the API's exception mapping).
        var result = await grains.GetGrain<IReviewQueueGrain>(tenantId).Review(id, authenticationId,
            new AuthenticationUpdate { Status = review.Status, Reviewer = review.Reviewer.Trim(), Note = note });
        // The verdict is durable; now tell the tenant's receivers the final status.
        await webhooks.PublishAsync(tenantId, WebhookEventKinds.AuthenticationFinished, AuthenticationWebhook.Payload(id, result, null), ct);
        return TypedResults.Ok(result);
    }

    private static AuthenticationSubmission ReadSubmission(IFormCollection form)
    {
        string? json = form.TryGetValue(ApiRoutes.MetadataPart, out var field) && field.Count > 0 ? field[0] : null;
        if (json is null && form.Files.GetFile(ApiRoutes.MetadataPart) is { } file)
        {
            using var reader = new StreamReader(file.OpenReadStream(), Encoding.UTF8);
            json = reader.ReadToEnd();
        }
        if (string.IsNullOrWhiteSpace(json))
            throw new ApiException(ApiErrorKind.InvalidRequest, $"A '{ApiRoutes.MetadataPart}' part is required: JSON {{\"model\": \"…\", \"authentication_id\": \"…\" (optional)}}.");
        try
        {
            return JsonSerializer.Deserialize<AuthenticationSubmission>(json, ApiJson.Options)
                ?? throw new ApiException(ApiErrorKind.InvalidRequest, $"The '{ApiRoutes.MetadataPart}' part must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ApiException(ApiErrorKind.InvalidRequest, $"The '{ApiRoutes.MetadataPart}' part is not valid JSON for an authentication submission: {e.Message}");
        }
    }

    private static void RequireItemId(string id)
    {
        if (!ItemKey.IsValidCustomerItemId(id))
            throw new ApiException(ApiErrorKind.InvalidId, $"Invalid customer_item_id '{Shorten(id)}': {ItemKey.CustomerItemIdRule}.");
    }

    private static string DeriveId(string tenantId, string customerItemId, string idempotencyKey) =>
        "auth_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(tenantId + "\n" + customerItemId + "\n" + idempotencyKey)))[..24];

    // The cursor is the queue sequence to continue after; opaque to clients so its form may change.
    private static string FormatCursor(long sequence) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes("r" + sequence.ToString(CultureInfo.InvariantCulture))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static long ParseCursor(string cursor)
    {
        try
        {
            var base64 = cursor.Replace('-', '+').Replace('_', '/');
            var text = Encoding.ASCII.GetString(Convert.FromBase64String(base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '=')));
            if (text.StartsWith('r') && long.TryParse(text.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)) return sequence;
        }
        catch (FormatException)
        {
        }
        throw new ApiException(ApiErrorKind.InvalidRequest, "'cursor' is not a cursor returned by this endpoint.");
    }

    private static string Shorten(string value) => value.Length > 80 ? value[..80] + "…" : value;
}
