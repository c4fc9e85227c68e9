using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Entrupy.Grains.Persistence.AzureStorage.Rest;

/// <summary>
/// Signs Blob service requests with Shared Key (HMAC-SHA256 of the canonicalized string-to-sign, API version 2015-02-21
/// and later rules): https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key
/// </summary>
internal sealed class SharedKeySigner(string accountName, byte[] accountKey)
{
    /// <summary>Adds <c>x-ms-date</c> and the <c>Authorization</c> header. Call last, after every other header is set.</summary>
    public void Sign(HttpRequestMessage request, DateTimeOffset now)
    {
        request.Headers.Remove("x-ms-date");
        request.Headers.TryAddWithoutValidation("x-ms-date", now.UtcDateTime.ToString("R"));
        var stringToSign = BuildStringToSign(request, accountName);
        var signature = Convert.ToBase64String(HMACSHA256.HashData(accountKey, Encoding.UTF8.GetBytes(stringToSign)));
        request.Headers.Authorization = new AuthenticationHeaderValue("SharedKey", $"{accountName}:{signature}");
    }

    /// <summary>The canonical string-to-sign of a request (exposed for tests against the documented format).</summary>
    internal static string BuildStringToSign(HttpRequestMessage request, string accountName)
    {
        var content = request.Content;
        var contentLength = content?.Headers.ContentLength;
        var text = new StringBuilder(256);
        text.Append(request.Method.Method).Append('\n');
        text.Append(Header(content?.Headers, "Content-Encoding")).Append('\n');
        text.Append(Header(content?.Headers, "Content-Language")).Append('\n');
        // Since 2015-02-21 a zero length is signed as an empty string.
        text.Append(contentLength is > 0 ? contentLength.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : "").Append('\n');
        text.Append(Header(content?.Headers, "Content-MD5")).Append('\n');
        text.Append(Header(content?.Headers, "Content-Type")).Append('\n');
        text.Append('\n'); // Date: we send x-ms-date instead, which is signed among the canonicalized headers.
        text.Append(Header(request.Headers, "If-Modified-Since")).Append('\n');
        text.Append(Header(request.Headers, "If-Match")).Append('\n');
        text.Append(Header(request.Headers, "If-None-Match")).Append('\n');
        text.Append(Header(request.Headers, "If-Unmodified-Since")).Append('\n');
        text.Append(Header(request.Headers, "Range")).Append('\n');

        var msHeaders = request.Headers
            .Concat(content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>())
            .Where(h => h.Key.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
            .Select(h => (Name: h.Key.ToLowerInvariant(), Value: string.Join(",", h.Value.Select(v => v.Trim()))))
            .OrderBy(h => h.Name, StringComparer.Ordinal);
        foreach (var (name, value) in msHeaders) text.Append(name).Append(':').Append(value).Append('\n');

        var uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        text.Append('/').Append(accountName).Append(uri.AbsolutePath);
        var query = ParseQuery(uri.Query);
        foreach (var (name, values) in query.OrderBy(q => q.Key, StringComparer.Ordinal))
        {
            text.Append('\n').Append(name).Append(':').Append(string.Join(",", values.OrderBy(v => v, StringComparer.Ordinal)));
        }

        return text.ToString();
    }

    private static string Header(HttpHeaders? headers, string name)
        => headers is not null && headers.TryGetValues(name, out var values) ? string.Join(",", values) : "";

    private static Dictionary<string, List<string>> ParseQuery(string query)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var name = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]).ToLowerInvariant();
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            if (!result.TryGetValue(name, out var list)) result[name] = list = new List<string>();
            list.Add(value);
        }

        return result;
    }
}
