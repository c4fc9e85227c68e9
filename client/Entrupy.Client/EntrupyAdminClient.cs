using Entrupy.Client.Internal;

namespace Entrupy.Client;

/// <summary>A tenant, as the admin endpoints return it.</summary>
/// <param name="Id">Tenant id (<c>ten_…</c>).</param>
/// <param name="Name">Display name.</param>
/// <param name="CreatedAt">When it was created.</param>
public sealed record TenantInfo(string Id, string Name, DateTimeOffset CreatedAt);

/// <summary>An API key's metadata; <see cref="Key"/> is set only in the answer to <see cref="EntrupyAdminClient.CreateApiKeyAsync"/>.</summary>
/// <param name="Id">Key id (<c>key_…</c>), used to revoke it.</param>
/// <param name="TenantId">The tenant the key acts for.</param>
/// <param name="Name">Label.</param>
/// <param name="Prefix">First characters of the key, to recognise it in listings.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="RevokedAt">When it was revoked, if it was.</param>
/// <param name="Key">The key itself (<c>ek_…</c>): shown once, store it safely.</param>
public sealed record ApiKeyInfo(string Id, string TenantId, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt = null, string? Key = null);

/// <summary>
/// Client of the silo's <c>/admin</c> endpoints (tenants and API keys), authorised by the bootstrap admin key
/// (<c>ENTRUPY_BOOTSTRAP_KEY</c>) given as <see cref="EntrupyClientOptions.ApiKey"/>. For set-up scripts and tests.
/// Same retry, idempotency and error behaviour as <see cref="EntrupyClient"/>.
/// </summary>
public sealed class EntrupyAdminClient : IDisposable
{
    private const string Tenants = "/admin/tenants";
    private readonly ApiTransport transport;

    /// <summary>Creates an admin client with its own <see cref="HttpClient"/>.</summary>
    /// <param name="options">Address, the admin key, retry and timeout settings (copied).</param>
    public EntrupyAdminClient(EntrupyClientOptions options) => transport = new ApiTransport(null, options);

    /// <summary>Creates an admin client over a caller-owned <see cref="HttpClient"/> (not disposed with the client).</summary>
    /// <param name="http">The HTTP client.</param>
    /// <param name="options">Address, the admin key, retry and timeout settings (copied).</param>
    public EntrupyAdminClient(HttpClient http, EntrupyClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        transport = new ApiTransport(http, options);
    }

    /// <summary>Creates a tenant.</summary>
    /// <param name="name">Display name, 1-200 characters.</param>
    /// <param name="request">Idempotency key, if the caller keeps its own (a repeat then returns the same tenant).</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    public Task<TenantInfo> CreateTenantAsync(string name, RequestOptions? request = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return transport.SendAsync<TenantInfo>(HttpMethod.Post, Tenants, RequestBody.Json(new NameBody(name)), request, ct);
    }

    /// <summary>Lists all tenants.</summary>
    /// <param name="ct">Cancels the call.</param>
    public Task<TenantInfo[]> ListTenantsAsync(CancellationToken ct = default)
        => transport.SendAsync<TenantInfo[]>(HttpMethod.Get, Tenants, null, null, ct);

    /// <summary>Reads one tenant.</summary>
    /// <param name="tenantId">Tenant id (<c>ten_…</c>).</param>
    /// <param name="ct">Cancels the call.</param>
    public Task<TenantInfo> GetTenantAsync(string tenantId, CancellationToken ct = default)
        => transport.SendAsync<TenantInfo>(HttpMethod.Get, TenantPath(tenantId), null, null, ct);

    /// <summary>Creates an API key for a tenant; the answer's <see cref="ApiKeyInfo.Key"/> is the only time the key is shown.</summary>
    /// <param name="tenantId">Tenant id (<c>ten_…</c>).</param>
    /// <param name="name">Label, e.g. "production"; null: "default".</param>
    /// <param name="request">Idempotency key, if the caller keeps its own.</param>
    /// <param name="ct">Cancels the call, retries included.</param>
    public Task<ApiKeyInfo> CreateApiKeyAsync(string tenantId, string? name = null, RequestOptions? request = null, CancellationToken ct = default)
        => transport.SendAsync<ApiKeyInfo>(HttpMethod.Post, TenantPath(tenantId) + "/keys", RequestBody.Json(new NameBody(name)), request, ct);

    /// <summary>Lists a tenant's keys (metadata only, never the keys).</summary>
    /// <param name="tenantId">Tenant id (<c>ten_…</c>).</param>
    /// <param name="ct">Cancels the call.</param>
    public Task<ApiKeyInfo[]> ListApiKeysAsync(string tenantId, CancellationToken ct = default)
        => transport.SendAsync<ApiKeyInfo[]>(HttpMethod.Get, TenantPath(tenantId) + "/keys", null, null, ct);

    /// <summary>Revokes a key at once; it then gets 401.</summary>
    /// <param name="tenantId">Tenant id (<c>ten_…</c>).</param>
    /// <param name="keyId">Key id (<c>key_…</c>).</param>
    /// <param name="ct">Cancels the call.</param>
    public Task<ApiKeyInfo> RevokeApiKeyAsync(string tenantId, string keyId, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        return transport.SendAsync<ApiKeyInfo>(HttpMethod.Delete, TenantPath(tenantId) + "/keys/" + Uri.EscapeDataString(keyId), null, null, ct);
    }

    /// <summary>Creates a tenant and one key for it: the usual first-run set-up.</summary>
    /// <param name="tenantName">Display name of the tenant.</param>
    /// <param name="keyName">Label of the key.</param>
    /// <param name="ct">Cancels the calls.</param>
    /// <returns>The tenant and the key (with <see cref="ApiKeyInfo.Key"/> set).</returns>
    public async Task<(TenantInfo Tenant, ApiKeyInfo Key)> CreateTenantWithKeyAsync(string tenantName, string? keyName = null, CancellationToken ct = default)
    {
        var tenant = await CreateTenantAsync(tenantName, null, ct).ConfigureAwait(false);
        var key = await CreateApiKeyAsync(tenant.Id, keyName, null, ct).ConfigureAwait(false);
        return (tenant, key);
    }

    /// <inheritdoc />
    public void Dispose() => transport.Dispose();

    private static string TenantPath(string tenantId)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        return Tenants + "/" + Uri.EscapeDataString(tenantId);
    }

    private sealed record NameBody(string? Name);
}
