using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Entrupy.Webhooks;

/// <summary>
/// Signs and verifies webhook deliveries: <c>Entrupy-Signature: v1=&lt;hex HMAC-SHA256(secret, timestamp + "." + body)&gt;</c>
/// with <c>Entrupy-Timestamp</c> in Unix seconds. Several <c>v1=</c> entries separated by commas are accepted so secrets
/// can be rotated.
/// </summary>
public static class WebhookSignature
{
    /// <summary>Header carrying the Unix-seconds timestamp that is part of the signed text.</summary>
    public const string TimestampHeader = "Entrupy-Timestamp";

    /// <summary>Header carrying the signature(s), e.g. <c>v1=5f2b…</c>.</summary>
    public const string SignatureHeader = "Entrupy-Signature";

    /// <summary>Header carrying the delivery's event id (stable across retries, for receivers to de-duplicate).</summary>
    public const string EventIdHeader = "Entrupy-Event-Id";

    /// <summary>Header carrying the event kind.</summary>
    public const string EventKindHeader = "Entrupy-Event";

    /// <summary>The version tag of the only scheme so far.</summary>
    public const string SchemeV1 = "v1";

    /// <summary>Computes the header value <c>v1=&lt;hex&gt;</c> for a body sent at <paramref name="timestamp"/>.</summary>
    /// <param name="secret">The subscription's secret, as returned when it was created.</param>
    /// <param name="timestamp">Unix seconds, sent in <see cref="TimestampHeader"/>.</param>
    /// <param name="body">The exact request body bytes.</param>
    public static string Sign(string secret, long timestamp, ReadOnlySpan<byte> body)
        => SchemeV1 + "=" + Convert.ToHexStringLower(ComputeMac(secret, timestamp.ToString(CultureInfo.InvariantCulture), body));

    /// <summary>
    /// Verifies a delivery. True only if the timestamp parses, lies within <paramref name="tolerance"/> of now (replay
    /// protection), and one of the <c>v1=</c> signatures matches (compared in constant time).
    /// </summary>
    /// <param name="secret">The subscription's secret.</param>
    /// <param name="timestamp">The <see cref="TimestampHeader"/> value as received.</param>
    /// <param name="body">The exact request body bytes as received (do not re-serialize).</param>
    /// <param name="signatureHeader">The <see cref="SignatureHeader"/> value as received.</param>
    /// <param name="tolerance">How far the timestamp may be from now, e.g. five minutes.</param>
    /// <param name="now">The current time; defaults to <see cref="DateTimeOffset.UtcNow"/>.</param>
    public static bool Verify(string secret, string? timestamp, ReadOnlySpan<byte> body, string? signatureHeader, TimeSpan tolerance, DateTimeOffset? now = null)
    {
        if (string.IsNullOrEmpty(secret) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signatureHeader)) return false;
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) return false;
        var current = (now ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        if (Math.Abs(current - seconds) > tolerance.TotalSeconds) return false;

        Span<byte> expected = stackalloc byte[32];
        ComputeMac(secret, timestamp, body).CopyTo(expected);
        Span<byte> candidate = stackalloc byte[32];
        foreach (var part in signatureHeader.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!part.StartsWith(SchemeV1 + "=", StringComparison.Ordinal)) continue;
            var hex = part.AsSpan(SchemeV1.Length + 1);
            if (hex.Length != 64) continue;
            if (Convert.FromHexString(hex, candidate, out _, out var written) != System.Buffers.OperationStatus.Done || written != 32) continue;
            if (CryptographicOperations.FixedTimeEquals(candidate, expected)) return true;
        }
        return false;
    }

    /// <summary>Verifies a delivery whose body is text (UTF-8).</summary>
    /// <inheritdoc cref="Verify(string, string?, ReadOnlySpan{byte}, string?, TimeSpan, DateTimeOffset?)"/>
    public static bool Verify(string secret, string? timestamp, string body, string? signatureHeader, TimeSpan tolerance, DateTimeOffset? now = null)
        => Verify(secret, timestamp, Encoding.UTF8.GetBytes(body), signatureHeader, tolerance, now);

    private static byte[] ComputeMac(string secret, string timestamp, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        hmac.AppendData(Encoding.ASCII.GetBytes(timestamp + "."));
        hmac.AppendData(body);
        return hmac.GetHashAndReset();
    }
}
