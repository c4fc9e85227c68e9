using System.Globalization;
using System.Text;
using Entrupy.Webhooks;

namespace Entrupy.Client.Tests;

public sealed class WebhookVerifierTests
{
    private const string Secret = "whsec_test_0123456789";
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"id":"evt_1","type":"registration.completed","data":{"customer_item_id":"bag-1"}}""");

    private static Dictionary<string, string> Headers(long timestamp, string signature) => new()
    {
        [WebhookSignature.TimestampHeader] = timestamp.ToString(CultureInfo.InvariantCulture),
        [WebhookSignature.SignatureHeader] = signature,
    };

    [Fact]
    public void A_signature_made_by_the_silo_verifies()
    {
        var ts = Now.ToUnixTimeSeconds();
        var signature = WebhookSignature.Sign(Secret, ts, Body);

        Assert.True(WebhookVerifier.Verify(Secret, Headers(ts, signature), Body, WebhookVerifier.DefaultTolerance, Now));
        Assert.True(WebhookVerifier.Verify(Secret, ts.ToString(CultureInfo.InvariantCulture), signature, Body, TimeSpan.FromMinutes(5), Now));
    }

    [Fact]
    public void Header_names_match_whatever_their_case()
    {
        var ts = Now.ToUnixTimeSeconds();
        var headers = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["entrupy-timestamp"] = ts.ToString(CultureInfo.InvariantCulture),
            ["ENTRUPY-SIGNATURE"] = WebhookSignature.Sign(Secret, ts, Body),
        };
        Assert.True(WebhookVerifier.Verify(Secret, headers, Body, WebhookVerifier.DefaultTolerance, Now));
    }

    [Fact]
    public void A_rotated_secret_list_verifies_if_any_entry_matches()
    {
        var ts = Now.ToUnixTimeSeconds();
        var header = WebhookSignature.Sign("old-secret", ts, Body) + ", " + WebhookSignature.Sign(Secret, ts, Body);
        Assert.True(WebhookVerifier.Verify(Secret, Headers(ts, header), Body, WebhookVerifier.DefaultTolerance, Now));
    }

    [Fact]
    public void A_tampered_body_fails()
    {
        var ts = Now.ToUnixTimeSeconds();
        var signature = WebhookSignature.Sign(Secret, ts, Body);
        var tampered = (byte[])Body.Clone();
        tampered[^3] ^= 0x01;
        Assert.False(WebhookVerifier.Verify(Secret, Headers(ts, signature), tampered, WebhookVerifier.DefaultTolerance, Now));
    }

    [Fact]
    public void An_old_timestamp_fails_even_with_a_valid_signature()
    {
        var old = Now.AddMinutes(-6).ToUnixTimeSeconds();
        var signature = WebhookSignature.Sign(Secret, old, Body);
        Assert.False(WebhookVerifier.Verify(Secret, Headers(old, signature), Body, TimeSpan.FromMinutes(5), Now));
        Assert.True(WebhookVerifier.Verify(Secret, Headers(old, signature), Body, TimeSpan.FromMinutes(7), Now));
    }

    [Fact]
    public void A_changed_timestamp_or_wrong_secret_or_missing_header_fails()
    {
        var ts = Now.ToUnixTimeSeconds();
        var signature = WebhookSignature.Sign(Secret, ts, Body);
        Assert.False(WebhookVerifier.Verify(Secret, Headers(ts + 1, signature), Body, WebhookVerifier.DefaultTolerance, Now));
        Assert.False(WebhookVerifier.Verify("another-secret", Headers(ts, signature), Body, WebhookVerifier.DefaultTolerance, Now));
        Assert.False(WebhookVerifier.Verify(Secret, new Dictionary<string, string> { [WebhookSignature.SignatureHeader] = signature }, Body,
            WebhookVerifier.DefaultTolerance, Now));
        Assert.False(WebhookVerifier.Verify(Secret, ts.ToString(CultureInfo.InvariantCulture), null, Body, WebhookVerifier.DefaultTolerance, Now));
    }
}
