using System.Security.Cryptography;
using System.Text;

namespace Entrupy.Tenancy;

/// <summary>Generates API keys, secrets and ids, and hashes keys for storage.</summary>
internal static class ApiKeys
{
    /// <summary>Every tenant key starts with this, so leaked keys are easy to spot (and scan for).</summary>
    public const string KeyPrefix = "ek_";

    /// <summary>Characters of the key kept (in clear) to identify it in listings.</summary>
    public const int DisplayPrefixLength = 11;

    /// <summary>A new key: 32 random bytes (256 bits) in base64url behind <see cref="KeyPrefix"/>.</summary>
    public static string NewKey() => KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>A new webhook signing secret.</summary>
    public static string NewWebhookSecret() => "whsec_" + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>A new random id with a type prefix, e.g. <c>ten_3f9a…</c>.</summary>
    public static string NewId(string prefix) => prefix + "_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary>Whether <paramref name="id"/> looks like an id made by <see cref="NewId"/> with this prefix.</summary>
    public static bool IsId(string? id, string prefix) =>
        id is not null && id.Length == prefix.Length + 17 && id.StartsWith(prefix + "_", StringComparison.Ordinal)
        && id.AsSpan(prefix.Length + 1).ContainsAnyExcept("0123456789abcdef") is false;

    /// <summary>Hex SHA-256 of the key: a high-entropy key needs no salt or slow hash.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The clear prefix shown in listings.</summary>
    public static string DisplayPrefix(string key) => key[..Math.Min(DisplayPrefixLength, key.Length)];

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
