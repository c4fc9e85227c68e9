using System.Security.Cryptography;
using System.Text;

namespace Entrupy.Registry.Fingerprints;

/// <summary>
/// The <c>FingerprintReference</c> of registrations made through the item registry:
/// <c>fingerprints:{tenantId}/{customerItemId}/{setId}</c>, naming an <see cref="IFingerprintSetGrain"/>.
/// <c>setId</c> is the first 32 hex digits of SHA-256(request id), so a retried registration reuses its set.
/// </summary>
internal static class FingerprintReferences
{
    /// <summary>Scheme prefix of references this registry understands.</summary>
    public const string Prefix = "fingerprints:";

    /// <summary>The set grain key for a registration request of <paramref name="item"/>.</summary>
    public static string SetKey(ItemKey item, string requestId) =>
        item + "/" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(requestId)))[..32];

    /// <summary>The reference stored in the lineage for a set key.</summary>
    public static string Format(string setKey) => Prefix + setKey;

    /// <summary>The set key of a reference, or null if the reference is not one of ours.</summary>
    public static string? TryGetSetKey(string? reference)
    {
        if (reference is null || !reference.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        var setKey = reference[Prefix.Length..];
        return TryParseSetKey(setKey, out _) ? setKey : null;
    }

    /// <summary>Validates a set grain key and returns the item it belongs to.</summary>
    /// <exception cref="InvalidIdentifierException">The key is malformed.</exception>
    public static ItemKey ParseSetKey(string setKey) =>
        TryParseSetKey(setKey, out var item) ? item
            : throw new InvalidIdentifierException("fingerprint_set", setKey, "a fingerprint set key must be '{tenant_id}/{customer_item_id}/{32 hex digits}'");

    private static bool TryParseSetKey(string setKey, out ItemKey item)
    {
        item = default;
        var slash = setKey.LastIndexOf('/');
        if (slash < 0 || setKey.Length - slash - 1 != 32 || !IsLowerHex(setKey.AsSpan(slash + 1))) return false;
        if (!ItemKey.TryParse(setKey[..slash], out var parsed)) return false;
        item = parsed.Value;
        return true;
    }

    private static bool IsLowerHex(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f'))) return false;
        }
        return true;
    }
}
