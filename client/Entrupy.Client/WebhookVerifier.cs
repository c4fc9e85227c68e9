using Entrupy.Webhooks;

namespace Entrupy.Client;

/// <summary>
/// Checks that a webhook delivery really comes from the registry: HMAC-SHA256 over <c>timestamp + "." + body</c> with the
/// subscription's secret, and a timestamp within the tolerance (replay protection). Verify the raw body bytes before parsing.
/// </summary>
public static class WebhookVerifier
{
    /// <summary>A sensible tolerance for the timestamp check.</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    /// <summary>Header carrying the delivery's event id; receivers de-duplicate on it.</summary>
    public const string EventIdHeader = WebhookSignature.EventIdHeader;

    /// <summary>Verifies a delivery from its headers (names matched case-insensitively).</summary>
    /// <param name="secret">The subscription's secret, as returned when it was created.</param>
    /// <param name="headers">The request headers (<c>Entrupy-Timestamp</c> and <c>Entrupy-Signature</c> are read).</param>
    /// <param name="body">The exact body bytes as received.</param>
    /// <param name="tolerance">How far the timestamp may be from now.</param>
    /// <param name="now">The current time; defaults to <see cref="DateTimeOffset.UtcNow"/>.</param>
    public static bool Verify(string secret, IReadOnlyDictionary<string, string> headers, ReadOnlySpan<byte> body, TimeSpan tolerance, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(headers);
        return Verify(secret, Find(headers, WebhookSignature.TimestampHeader), Find(headers, WebhookSignature.SignatureHeader), body, tolerance, now);
    }

    /// <summary>Verifies a delivery from its two header values.</summary>
    /// <param name="secret">The subscription's secret.</param>
    /// <param name="timestampHeader">The <c>Entrupy-Timestamp</c> value (Unix seconds).</param>
    /// <param name="signatureHeader">The <c>Entrupy-Signature</c> value (one or more comma-separated <c>v1=</c> entries).</param>
    /// <param name="body">The exact body bytes as received.</param>
    /// <param name="tolerance">How far the timestamp may be from now.</param>
    /// <param name="now">The current time; defaults to <see cref="DateTimeOffset.UtcNow"/>.</param>
    public static bool Verify(string secret, string? timestampHeader, string? signatureHeader, ReadOnlySpan<byte> body, TimeSpan tolerance, DateTimeOffset? now = null)
        => WebhookSignature.Verify(secret, timestampHeader, body, signatureHeader, tolerance, now);

    private static string? Find(IReadOnlyDictionary<string, string> headers, string name)
    {
        if (headers.TryGetValue(name, out var value)) return value;
        // The caller's dictionary may be case-sensitive while HTTP header names are not.
        foreach (var (key, v) in headers)
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase)) return v;
        return null;
    }
}
