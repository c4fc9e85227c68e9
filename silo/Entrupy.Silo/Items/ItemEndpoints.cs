using Entrupy.Tenancy;
using Entrupy.Webhooks;
using Entrupy.Inference;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Orleans;
using Entrupy.Registry;
using Entrupy.Registry.Api;
using Entrupy.Registry.Inference;
using Entrupy.Silo.Api;
using Microsoft.AspNetCore.Mvc;

namespace Entrupy.Silo.Items;

/// <summary>
/// The item REST endpoints (routes in <see cref="ApiRoutes"/>): register, compare, trace, custody, EPCIS export, item
/// view, listing and links. All are tenant-scoped; every POST that changes something needs an Idempotency-Key
/// (compare and trace are reads and store no response).
/// </summary>
internal static class ItemEndpoints
{
    private const int DefaultTop = 5;
    private const int MaxTop = 20;
    private const int DefaultPageSize = 100;
    private const int MaxPageSize = 500;
    private const int MaxCustodyPage = 1000;

    public static IEndpointRouteBuilder MapItemEndpoints(this IEndpointRouteBuilder app)
    {
        static RouteHandlerBuilder Read(RouteHandlerBuilder endpoint) => endpoint
            .RequireAuthorization(ApiAuth.TenantPolicy)
            .WithTags("items")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        // Changes need an Idempotency-Key; reads (compare and trace are POSTs only to carry captures) store no response.
        static RouteHandlerBuilder Tenant(RouteHandlerBuilder endpoint) => Read(endpoint).RequireIdempotencyKey();

        Tenant(app.MapPost(ApiRoutes.Registrations, RegisterAsync)).WithName("RegisterItem")
            .WithSummary("Register (or re-register) an item's fingerprint from multipart 'image' parts and a 'metadata' JSON part.")
            .Produces<RegistrationResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        Read(app.MapPost(ApiRoutes.Compare, CompareAsync)).WithName("CompareItem")
            .WithSummary("1:1: do the multipart 'image' captures show this item?")
            .Produces<CompareResponse>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        Read(app.MapPost(ApiRoutes.Trace, TraceAsync)).WithName("Trace")
            .WithSummary("1:N within the tenant: which registered item do the multipart 'image' captures show? (?top=1..20)")
            .Produces<TraceResponse>().ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        app.MapPost(ApiRoutes.CaptureAssessment, AssessCapturesAsync).RequireAuthorization(ApiAuth.TenantPolicy).WithTags("captures")
            .WithName("AssessCaptures")
            .WithSummary("The quality gate on the multipart 'image' captures, one verdict each; nothing is stored.")
            .Produces<CaptureAssessmentResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        Tenant(app.MapPost(ApiRoutes.Custody, AddCustodyEventAsync)).WithName("AddCustodyEvent")
            .Accepts<CustodyEventRequest>("application/json").Produces<CustodyEvent>(StatusCodes.Status201Created);
        Tenant(app.MapGet(ApiRoutes.Custody, ListCustodyAsync)).WithName("ListCustodyEvents")
            .Produces<CustodyEventPage>().ProducesProblem(StatusCodes.Status404NotFound);
        Tenant(app.MapGet(ApiRoutes.CustodyEpcis, ExportEpcisAsync)).WithName("ExportCustodyEpcis")
            .Produces<string>(contentType: "application/ld+json").ProducesProblem(StatusCodes.Status404NotFound);
        Tenant(app.MapGet(ApiRoutes.Item, GetItemAsync)).WithName("GetItem")
            .Produces<ItemView>().ProducesProblem(StatusCodes.Status404NotFound);
        Tenant(app.MapGet(ApiRoutes.Items, ListItemsAsync)).WithName("ListItems").Produces<ItemPage>();
        Tenant(app.MapPost(ApiRoutes.Link, LinkAsync)).WithName("LinkItem")
            .Accepts<LinkRequest>("application/json").Produces<ItemView>().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    private static async Task<IResult> RegisterAsync(string id, HttpRequest request, ClaimsPrincipal user, [FromServices] ItemUseCases items,
        CancellationToken cancellationToken)
    {
        var key = ItemRequests.Key(user, id);
        var timing = ServerTiming.Of(request.HttpContext);
        var upload = await timing.Time("form", () => ItemRequests.ReadCapturesAsync(request, metadataAllowed: true, cancellationToken));
        var metadata = upload.MetadataJson is { } json ? ItemRequests.ParseJson<RegistrationMetadata>(json, "metadata part") : new RegistrationMetadata();
        var response = await items.RegisterAsync(key, upload.Images, metadata, RegistrationRequestId(key, request), timing, cancellationToken);
        return TypedResults.Created(ApiRoutes.Format(ApiRoutes.Item, key.CustomerItemId), response);
    }

    private static async Task<IResult> CompareAsync(string id, HttpRequest request, ClaimsPrincipal user, [FromServices] ItemUseCases items,
        CancellationToken cancellationToken)
    {
        var key = ItemRequests.Key(user, id);
        var timing = ServerTiming.Of(request.HttpContext);
        var upload = await timing.Time("form", () => ItemRequests.ReadCapturesAsync(request, metadataAllowed: false, cancellationToken));
        return TypedResults.Ok(await items.CompareAsync(key, upload.Images, timing, cancellationToken));
    }

    private static async Task<IResult> AssessCapturesAsync(HttpRequest request, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var timing = ServerTiming.Of(request.HttpContext);
        var upload = await timing.Time("form", () => ItemRequests.ReadCapturesAsync(request, metadataAllowed: false, cancellationToken));
        var results = await timing.Time("extract", () => grains.GetGrain<IFingerprintExtractorGrain>(0).Extract(upload.Images, FingerprintUse.Probe));
        return TypedResults.Ok(new CaptureAssessmentResponse
        {
            Captures = [.. results.Select((r, i) => new CaptureAssessment
            {
                Index = i,
                Accepted = r.Rejection is null,
                Rejection = r.Rejection,
                Message = r.Message,
                Quality = r.Quality is { } q ? q with { Index = i } : null,
            })],
        });
    }

    private static async Task<IResult> TraceAsync(HttpRequest request, ClaimsPrincipal user, [FromServices] ItemUseCases items,
        CancellationToken cancellationToken)
    {
        var tenantId = user.TenantId();
        var top = ItemRequests.QueryInt(request, "top", DefaultTop, 1, MaxTop);
        var timing = ServerTiming.Of(request.HttpContext);
        var upload = await timing.Time("form", () => ItemRequests.ReadCapturesAsync(request, metadataAllowed: false, cancellationToken));
        return TypedResults.Ok(await items.TraceAsync(tenantId, upload.Images, top, timing, cancellationToken));
    }

    private static async Task<IResult> AddCustodyEventAsync(string id, HttpRequest request, ClaimsPrincipal user, [FromServices] ItemUseCases items,
        CancellationToken cancellationToken)
    {
        var key = ItemRequests.Key(user, id);
        var body = await ItemRequests.ReadJsonAsync<CustodyEventRequest>(request, "custody event", cancellationToken);
        // Without a client eventID, one derived from the Idempotency-Key makes a retry after an unknown outcome
        // (silo died before the idempotency record was stored) return the stored event instead of appending another.
        if (body.EventId is null) body = body with { EventId = CustodyEventIds.Derive(key, "custody:" + request.Headers[ApiRoutes.IdempotencyKeyHeader]) };
        var recorded = await items.AddCustodyEventAsync(key, body, cancellationToken);
        var location = ApiRoutes.Format(ApiRoutes.Custody, key.CustomerItemId) + $"?from={recorded.Sequence}&limit=1";
        return TypedResults.Created(location, recorded);
    }

    private static async Task<IResult> ListCustodyAsync(string id, HttpRequest request, ClaimsPrincipal user, IGrainFactory grains)
    {
        var key = ItemRequests.Key(user, id);
        var from = ItemRequests.QueryInt(request, "from", 0, 0, int.MaxValue);
        var limit = ItemRequests.QueryInt(request, "limit", DefaultPageSize, 1, MaxCustodyPage);
        var item = grains.GetItemGrain(key);
        // One more than asked tells whether another page exists (the grain caps a read at 1000).
        var events = await item.ListCustodyEvents(from, Math.Min(limit + 1, MaxCustodyPage));
        if (events.Length == 0 && !(await item.GetItem()).Exists) throw NotFound(key);
        var more = events.Length > limit || (events.Length == limit && limit == MaxCustodyPage);
        var page = events.Length > limit ? events[..limit] : events;
        return TypedResults.Ok(new CustodyEventPage { Events = page, NextFrom = more ? from + page.Length : null });
    }

    private static async Task<IResult> ExportEpcisAsync(string id, ClaimsPrincipal user, IGrainFactory grains)
    {
        var key = ItemRequests.Key(user, id);
        var item = grains.GetItemGrain(key);
        if (!(await item.GetItem()).Exists) throw NotFound(key);
        return Results.Text(await item.ExportEpcis(), "application/ld+json", Encoding.UTF8);
    }

    private static async Task<IResult> GetItemAsync(string id, ClaimsPrincipal user, IGrainFactory grains)
    {
        var key = ItemRequests.Key(user, id);
        var view = await grains.GetItemGrain(key).GetItem();
        return view.Exists ? TypedResults.Ok(ItemRequests.WithoutFingerprints(view)) : throw NotFound(key);
    }

    private static async Task<IResult> ListItemsAsync(HttpRequest request, ClaimsPrincipal user, [FromServices] TenantItemDirectory directory)
    {
        var tenantId = user.TenantId();
        var limit = ItemRequests.QueryInt(request, "limit", DefaultPageSize, 1, MaxPageSize);
        string? after = null;
        if (request.Query["cursor"].ToString() is { Length: > 0 } cursor)
        {
            after = TenantItemDirectory.DecodeCursor(cursor)
                ?? throw new ApiException(ApiErrorKind.InvalidRequest, "'cursor' is not a cursor this API issued; pass next_cursor exactly as returned.");
        }
        return TypedResults.Ok(await directory.ListAsync(tenantId, after, limit));
    }

    private static async Task<IResult> LinkAsync(string id, HttpRequest request, ClaimsPrincipal user, [FromServices] ItemUseCases items,
        CancellationToken cancellationToken)
    {
        var key = ItemRequests.Key(user, id);
        var body = await ItemRequests.ReadJsonAsync<LinkRequest>(request, "link request", cancellationToken);
        if (!ItemKey.IsValidCustomerItemId(body.PermanentCustomerItemId))
            throw new InvalidIdentifierException("permanent_customer_item_id", body.PermanentCustomerItemId, ItemKey.CustomerItemIdRule);
        var permanent = ItemKey.Create(key.TenantId, body.PermanentCustomerItemId);
        try
        {
            return TypedResults.Ok(ItemRequests.WithoutFingerprints(await items.LinkAsync(key, permanent, body.Reason)));
        }
        catch (RegistryNotFoundException)
        {
            throw NotFound(key);
        }
    }

    /// <summary>
    /// The registry's request id for a registration: derived from tenant, item and Idempotency-Key, so a retry
    /// registers once even when the idempotency record of the first attempt was never stored (e.g. the silo died).
    /// </summary>
    internal static string RegistrationRequestId(ItemKey key, HttpRequest request)
    {
        var idempotencyKey = request.Headers[ApiRoutes.IdempotencyKeyHeader].ToString();
        return "reg_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key.TenantId + "\n" + key.CustomerItemId + "\n" + idempotencyKey)))[..32];
    }

    private static ApiException NotFound(ItemKey key) =>
        new(ApiErrorKind.NotFound, $"No item '{key.CustomerItemId}' exists in this tenant.");
}
