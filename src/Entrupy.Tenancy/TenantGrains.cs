using Orleans;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Tenancy;

/// <summary>A tenant as the API shows it.</summary>
internal sealed record TenantInfo(string Id, string Name, DateTimeOffset CreatedAt);

/// <summary>An API key's metadata; the key itself is never stored, only its SHA-256.</summary>
internal sealed record ApiKeyInfo(string Id, string Name, string Prefix, string Hash, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>What the key grain knows: which tenant a key hash belongs to, and whether it is revoked.</summary>
internal sealed record ApiKeyBinding(string TenantId, string KeyId, string Prefix, bool Revoked);

/// <summary>A webhook subscription. The secret is kept (it is needed to sign) but only shown at creation.</summary>
internal sealed record WebhookSubscription(string Id, string Url, string[] Events, string Secret, string? Description, DateTimeOffset CreatedAt);

/// <summary>One tenant: its name, key metadata and webhook subscriptions. Keyed by tenant id.</summary>
internal interface ITenantGrain : IGrainWithStringKey
{
    Task<TenantInfo?> Get();
    Task<TenantInfo> Create(string name, DateTimeOffset createdAt);
    Task<ApiKeyInfo> AddKey(ApiKeyInfo key);
    Task<ApiKeyInfo[]> ListKeys();
    Task<ApiKeyInfo?> RevokeKey(string keyId, DateTimeOffset revokedAt);
    Task<WebhookSubscription> AddSubscription(WebhookSubscription subscription);
    Task<WebhookSubscription[]> ListSubscriptions();
    Task<WebhookSubscription?> GetSubscription(string subscriptionId);
    Task<bool> RemoveSubscription(string subscriptionId);
}

/// <summary>Durable state of <see cref="TenantGrain"/>.</summary>
internal sealed class TenantState
{
    public TenantInfo? Tenant { get; set; }
    public List<ApiKeyInfo> Keys { get; set; } = [];
    public List<WebhookSubscription> Subscriptions { get; set; } = [];
}

[GrainType("tenant")]
internal sealed class TenantGrain([PersistentState("tenant")] IPersistentState<TenantState> state) : Grain, ITenantGrain
{
    public Task<TenantInfo?> Get() => Task.FromResult(state.State.Tenant);

    public async Task<TenantInfo> Create(string name, DateTimeOffset createdAt)
    {
        if (state.State.Tenant is { } existing) return existing;
        state.State.Tenant = new TenantInfo(this.GetPrimaryKeyString(), name, createdAt);
        await state.WriteStateAsync();
        return state.State.Tenant;
    }

    public async Task<ApiKeyInfo> AddKey(ApiKeyInfo key)
    {
        state.State.Keys.Add(key);
        await state.WriteStateAsync();
        return key;
    }

    public Task<ApiKeyInfo[]> ListKeys() => Task.FromResult(state.State.Keys.ToArray());

    public async Task<ApiKeyInfo?> RevokeKey(string keyId, DateTimeOffset revokedAt)
    {
        var index = state.State.Keys.FindIndex(k => k.Id == keyId);
        if (index < 0) return null;
        var key = state.State.Keys[index];
        if (key.RevokedAt is not null) return key;
        state.State.Keys[index] = key with { RevokedAt = revokedAt };
        await state.WriteStateAsync();
        return state.State.Keys[index];
    }

    public async Task<WebhookSubscription> AddSubscription(WebhookSubscription subscription)
    {
        state.State.Subscriptions.Add(subscription);
        await state.WriteStateAsync();
        return subscription;
    }

    public Task<WebhookSubscription[]> ListSubscriptions() => Task.FromResult(state.State.Subscriptions.ToArray());

    public Task<WebhookSubscription?> GetSubscription(string subscriptionId) =>
        Task.FromResult(state.State.Subscriptions.FirstOrDefault(s => s.Id == subscriptionId));

    public async Task<bool> RemoveSubscription(string subscriptionId)
    {
        if (state.State.Subscriptions.RemoveAll(s => s.Id == subscriptionId) == 0) return false;
        await state.WriteStateAsync();
        return true;
    }
}

/// <summary>One API key, keyed by the hex SHA-256 of the key: authentication is a single grain call.</summary>
internal interface IApiKeyGrain : IGrainWithStringKey
{
    Task<ApiKeyBinding?> Get();
    Task Bind(ApiKeyBinding binding);
    Task Revoke();
}

/// <summary>Durable state of <see cref="ApiKeyGrain"/>.</summary>
internal sealed class ApiKeyState
{
    public ApiKeyBinding? Binding { get; set; }
}

[GrainType("apikey")]
internal sealed class ApiKeyGrain([PersistentState("apikey")] IPersistentState<ApiKeyState> state) : Grain, IApiKeyGrain
{
    public Task<ApiKeyBinding?> Get() => Task.FromResult(state.State.Binding);

    public async Task Bind(ApiKeyBinding binding)
    {
        state.State.Binding = binding;
        await state.WriteStateAsync();
    }

    public async Task Revoke()
    {
        if (state.State.Binding is not { Revoked: false } binding) return;
        state.State.Binding = binding with { Revoked = true };
        await state.WriteStateAsync();
    }
}

/// <summary>The list of tenant ids, for the admin listing. A single grain keyed <see cref="TenantDirectoryGrain.Key"/>.</summary>
internal interface ITenantDirectoryGrain : IGrainWithStringKey
{
    Task Add(string tenantId);
    Task<string[]> List();
}

/// <summary>Durable state of <see cref="TenantDirectoryGrain"/>.</summary>
internal sealed class TenantDirectoryState
{
    public List<string> TenantIds { get; set; } = [];
}

[GrainType("tenantdirectory")]
internal sealed class TenantDirectoryGrain([PersistentState("directory")] IPersistentState<TenantDirectoryState> state) : Grain, ITenantDirectoryGrain
{
    public const string Key = "all";

    public async Task Add(string tenantId)
    {
        if (state.State.TenantIds.Contains(tenantId)) return;
        state.State.TenantIds.Add(tenantId);
        await state.WriteStateAsync();
    }

    public Task<string[]> List() => Task.FromResult(state.State.TenantIds.ToArray());
}
