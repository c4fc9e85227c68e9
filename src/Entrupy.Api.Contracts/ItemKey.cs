using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Entrupy.Registry;

/// <summary>
/// The key of an item grain: <c>{tenantId}/{customerItemId}</c>. Every item lives inside one tenant, so two tenants
/// using the same customer item id address different grains and never see each other's items.
/// Both parts are validated; neither may contain '/', so the key splits unambiguously.
/// </summary>
public readonly partial record struct ItemKey
{
    /// <summary>The rule a customer item id must follow, quoted in <see cref="InvalidIdentifierException"/>.</summary>
    public const string CustomerItemIdRule =
        "customer_item_id must be 1-128 characters from [A-Za-z0-9._:-] and must not start with '.'";

    /// <summary>The rule a tenant id must follow, quoted in <see cref="InvalidIdentifierException"/>.</summary>
    public const string TenantIdRule =
        "tenant_id must be 1-64 characters from [A-Za-z0-9._-] and must start with a letter or digit";

    private ItemKey(string tenantId, string customerItemId)
    {
        TenantId = tenantId;
        CustomerItemId = customerItemId;
    }

    /// <summary>The tenant that owns the item.</summary>
    public string TenantId { get; }

    /// <summary>The customer's own id for the item, unique within the tenant.</summary>
    public string CustomerItemId { get; }

    /// <summary>Builds a key from validated parts.</summary>
    /// <exception cref="InvalidIdentifierException">A part breaks its rule.</exception>
    public static ItemKey Create(string tenantId, string customerItemId)
    {
        ValidateTenantId(tenantId);
        ValidateCustomerItemId(customerItemId);
        return new ItemKey(tenantId, customerItemId);
    }

    /// <summary>Parses <c>{tenantId}/{customerItemId}</c> and validates both parts.</summary>
    /// <exception cref="InvalidIdentifierException">The key is malformed or a part breaks its rule.</exception>
    public static ItemKey Parse(string grainKey)
    {
        ArgumentNullException.ThrowIfNull(grainKey);
        var slash = grainKey.IndexOf('/');
        if (slash < 0)
        {
            throw new InvalidIdentifierException("item_key", grainKey, "an item key must be '{tenant_id}/{customer_item_id}'");
        }

        return Create(grainKey[..slash], grainKey[(slash + 1)..]);
    }

    /// <summary>Parses a key without throwing.</summary>
    public static bool TryParse(string? grainKey, [NotNullWhen(true)] out ItemKey? key)
    {
        key = null;
        if (grainKey is null) return false;
        var slash = grainKey.IndexOf('/');
        if (slash < 0) return false;
        var tenant = grainKey[..slash];
        var item = grainKey[(slash + 1)..];
        if (!IsValidTenantId(tenant) || !IsValidCustomerItemId(item)) return false;
        key = new ItemKey(tenant, item);
        return true;
    }

    /// <summary>True when <paramref name="customerItemId"/> follows <see cref="CustomerItemIdRule"/>.</summary>
    public static bool IsValidCustomerItemId(string? customerItemId) =>
        customerItemId is not null && CustomerItemIdPattern().IsMatch(customerItemId);

    /// <summary>True when <paramref name="tenantId"/> follows <see cref="TenantIdRule"/>.</summary>
    public static bool IsValidTenantId(string? tenantId) => tenantId is not null && TenantIdPattern().IsMatch(tenantId);

    /// <summary>Throws unless <paramref name="customerItemId"/> follows <see cref="CustomerItemIdRule"/>.</summary>
    /// <exception cref="InvalidIdentifierException">It does not.</exception>
    public static void ValidateCustomerItemId(string? customerItemId)
    {
        if (!IsValidCustomerItemId(customerItemId))
        {
            throw new InvalidIdentifierException("customer_item_id", customerItemId, CustomerItemIdRule);
        }
    }

    /// <summary>Throws unless <paramref name="tenantId"/> follows <see cref="TenantIdRule"/>.</summary>
    /// <exception cref="InvalidIdentifierException">It does not.</exception>
    public static void ValidateTenantId(string? tenantId)
    {
        if (!IsValidTenantId(tenantId))
        {
            throw new InvalidIdentifierException("tenant_id", tenantId, TenantIdRule);
        }
    }

    /// <summary>The grain key, <c>{tenantId}/{customerItemId}</c>.</summary>
    public override string ToString() => TenantId + "/" + CustomerItemId;

    // \z, not $: '$' would also match before a trailing newline.
    [GeneratedRegex(@"^[A-Za-z0-9_:\-][A-Za-z0-9._:\-]{0,127}\z", RegexOptions.CultureInvariant)]
    private static partial Regex CustomerItemIdPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex TenantIdPattern();
}
