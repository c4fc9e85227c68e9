using Entrupy.Tenancy;
using Entrupy.Webhooks;
using Entrupy.Inference;
using System.Text.Json.Serialization;
using Orleans;
using Entrupy.Silo.Api;

namespace Entrupy.Silo.Tenancy;

/// <summary>Body of <c>POST /admin/tenants</c>.</summary>
/// <param name="Name">Display name, 1–200 characters.</param>
public sealed record CreateTenantRequest(string? Name);

/// <summary>A tenant.</summary>
/// <param name="Id">Tenant id (<c>ten_…</c>).</param>
/// <param name="Name">Display name.</param>
/// <param name="CreatedAt">When it was created.</param>
public sealed record TenantResponse(string Id, string Name, DateTimeOffset CreatedAt);

/// <summary>Body of <c>POST /admin/tenants/{id}/keys</c>.</summary>
/// <param name="Name">Optional label, e.g. "ci" or "production".</param>
public sealed record CreateKeyRequest(string? Name);

/// <summary>An API key's metadata. <see cref="Key"/> is present only in the creation response: it is not stored.</summary>
/// <param name="Id">Key id (<c>key_…</c>), used to revoke it.</param>
/// <param name="TenantId">The tenant the key acts for.</param>
/// <param name="Name">Label.</param>
/// <param name="Prefix">First characters of the key, to recognise it.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="RevokedAt">When it was revoked, if it was.</param>
/// <param name="Key">The key itself: shown once.</param>
public sealed record ApiKeyResponse(
    string Id, string TenantId, string Name, string Prefix, DateTimeOffset CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? RevokedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key);

/// <summary>Tenant and key administration, authorised by the admin key.</summary>
internal static class AdminEndpoints
{
    public static void MapAdminEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin")
            .RequireAuthorization(ApiAuth.AdminPolicy)
            .WithMetadata(new AdminEndpointMetadata())
            .RequireIdempotencyKey()
            .WithTags("admin");

        admin.MapPost("/tenants", async Task<IResult> (CreateTenantRequest request, IGrainFactory grains, TimeProvider clock) =>
        {
            var name = request.Name?.Trim();
            if (string.IsNullOrEmpty(name) || name.Length > 200) throw new ApiException(ApiErrorKind.InvalidRequest, "'name' is required (1-200 characters).");
            var id = ApiKeys.NewId("ten");
            var tenant = await grains.GetGrain<ITenantGrain>(id).Create(name, clock.GetUtcNow());
            await grains.GetGrain<ITenantDirectoryGrain>(TenantDirectoryGrain.Key).Add(id);
            return TypedResults.Created($"/admin/tenants/{id}", ToResponse(tenant));
        }).WithName("CreateTenant").Produces<TenantResponse>(StatusCodes.Status201Created);

        admin.MapGet("/tenants", async (IGrainFactory grains) =>
        {
            var ids = await grains.GetGrain<ITenantDirectoryGrain>(TenantDirectoryGrain.Key).List();
            var tenants = await Task.WhenAll(ids.Select(id => grains.GetGrain<ITenantGrain>(id).Get()));
            return TypedResults.Ok(tenants.OfType<TenantInfo>().Select(ToResponse).ToArray());
        }).WithName("ListTenants");

        admin.MapGet("/runtime", () => TypedResults.Ok(Health.RuntimeStatus.Read())).WithName("GetRuntimeStatus")
            .WithSummary("The silo process: CPU, threads and garbage-collector counters since start (read twice to bracket a load).");

        admin.MapGet("/tenants/{tenantId}", async (string tenantId, IGrainFactory grains) =>
            TypedResults.Ok(ToResponse(await RequireTenantAsync(grains, tenantId)))).WithName("GetTenant");

        admin.MapPost("/tenants/{tenantId}/keys", async Task<IResult> (string tenantId, CreateKeyRequest? request, IGrainFactory grains, TimeProvider clock) =>
        {
            await RequireTenantAsync(grains, tenantId);
            var key = ApiKeys.NewKey();
            var info = new ApiKeyInfo(ApiKeys.NewId("key"), request?.Name?.Trim() is { Length: > 0 and <= 200 } n ? n : "default",
                ApiKeys.DisplayPrefix(key), ApiKeys.Hash(key), clock.GetUtcNow(), null);
            // Bind the hash first: a key listed on the tenant always authenticates.
            await grains.GetGrain<IApiKeyGrain>(info.Hash).Bind(new ApiKeyBinding(tenantId, info.Id, info.Prefix, Revoked: false));
            await grains.GetGrain<ITenantGrain>(tenantId).AddKey(info);
            return TypedResults.Created($"/admin/tenants/{tenantId}/keys/{info.Id}", ToResponse(tenantId, info) with { Key = key });
        }).WithName("CreateApiKey").Produces<ApiKeyResponse>(StatusCodes.Status201Created);

        admin.MapGet("/tenants/{tenantId}/keys", async (string tenantId, IGrainFactory grains) =>
        {
            await RequireTenantAsync(grains, tenantId);
            var keys = await grains.GetGrain<ITenantGrain>(tenantId).ListKeys();
            return TypedResults.Ok(keys.Select(k => ToResponse(tenantId, k)).ToArray());
        }).WithName("ListApiKeys");

        admin.MapDelete("/tenants/{tenantId}/keys/{keyId}", async (string tenantId, string keyId, IGrainFactory grains, TimeProvider clock) =>
        {
            await RequireTenantAsync(grains, tenantId);
            if (!ApiKeys.IsId(keyId, "key")) throw new ApiException(ApiErrorKind.InvalidId, $"'{keyId}' is not a key id (key_ followed by 16 hex digits).");
            var revoked = await grains.GetGrain<ITenantGrain>(tenantId).RevokeKey(keyId, clock.GetUtcNow())
                ?? throw new ApiException(ApiErrorKind.NotFound, $"Tenant {tenantId} has no key {keyId}.");
            await grains.GetGrain<IApiKeyGrain>(revoked.Hash).Revoke();
            return TypedResults.Ok(ToResponse(tenantId, revoked));
        }).WithName("RevokeApiKey");
    }

    private static async Task<TenantInfo> RequireTenantAsync(IGrainFactory grains, string tenantId)
    {
        if (!ApiKeys.IsId(tenantId, "ten")) throw new ApiException(ApiErrorKind.InvalidId, $"'{tenantId}' is not a tenant id (ten_ followed by 16 hex digits).");
        return await grains.GetGrain<ITenantGrain>(tenantId).Get() ?? throw new ApiException(ApiErrorKind.NotFound, $"There is no tenant {tenantId}.");
    }

    private static TenantResponse ToResponse(TenantInfo t) => new(t.Id, t.Name, t.CreatedAt);

    private static ApiKeyResponse ToResponse(string tenantId, ApiKeyInfo k) => new(k.Id, tenantId, k.Name, k.Prefix, k.CreatedAt, k.RevokedAt, null);
}
