namespace Entrupy.Grains.Persistence.AzureStorage.Rest;

/// <summary>
/// The parts of an Azure Storage connection string the Blob client needs: account, key and Blob endpoint.
/// Shared Key only; SAS tokens and Azure AD are not supported by this client.
/// </summary>
internal sealed record StorageConnectionString(string AccountName, byte[] AccountKey, Uri BlobEndpoint)
{
    /// <summary>Azurite's and the old storage emulator's fixed, public account.</summary>
    public const string DevelopmentAccountName = "devstoreaccount1";

    /// <summary>The well-known (public, not secret) key of <see cref="DevelopmentAccountName"/>.</summary>
    public const string DevelopmentAccountKey =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Parses <c>UseDevelopmentStorage=true</c> or <c>AccountName=..;AccountKey=..</c> with an endpoint or suffix.</summary>
    /// <exception cref="FormatException">The string is malformed or lacks what Shared Key needs; the message says what.</exception>
    public static StorageConnectionString Parse(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var segment in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Split on the first '=' only: base64 keys end with '=' padding.
            var eq = segment.IndexOf('=');
            if (eq <= 0) throw new FormatException($"Azure Storage connection string: '{segment}' is not a Name=Value pair.");
            parts[segment[..eq].Trim()] = segment[(eq + 1)..].Trim();
        }

        if (parts.TryGetValue("UseDevelopmentStorage", out var dev) && bool.TryParse(dev, out var useDev) && useDev)
        {
            var proxy = parts.TryGetValue("DevelopmentStorageProxyUri", out var p) ? new Uri(p) : new Uri("http://127.0.0.1");
            var endpoint = new UriBuilder(proxy) { Port = 10000, Path = DevelopmentAccountName }.Uri;
            return new StorageConnectionString(DevelopmentAccountName, Convert.FromBase64String(DevelopmentAccountKey), endpoint);
        }

        if (parts.ContainsKey("SharedAccessSignature"))
            throw new FormatException("Azure Storage connection string: SAS tokens are not supported by this client; use AccountName and AccountKey.");
        if (!parts.TryGetValue("AccountName", out var account) || account.Length == 0)
            throw new FormatException("Azure Storage connection string: AccountName is missing (or use UseDevelopmentStorage=true).");
        if (!parts.TryGetValue("AccountKey", out var keyText) || keyText.Length == 0)
            throw new FormatException("Azure Storage connection string: AccountKey is missing (Shared Key authorization needs it).");
        byte[] key;
        try
        {
            key = Convert.FromBase64String(keyText);
        }
        catch (FormatException)
        {
            throw new FormatException("Azure Storage connection string: AccountKey is not valid base64.");
        }

        Uri blobEndpoint;
        if (parts.TryGetValue("BlobEndpoint", out var explicitEndpoint))
        {
            if (!Uri.TryCreate(explicitEndpoint, UriKind.Absolute, out blobEndpoint!) || blobEndpoint.Scheme is not ("http" or "https"))
                throw new FormatException($"Azure Storage connection string: BlobEndpoint '{explicitEndpoint}' is not an http(s) URL.");
        }
        else
        {
            var protocol = parts.GetValueOrDefault("DefaultEndpointsProtocol", "https");
            var suffix = parts.GetValueOrDefault("EndpointSuffix", "core.windows.net");
            blobEndpoint = new Uri($"{protocol}://{account}.blob.{suffix}");
        }

        return new StorageConnectionString(account, key, blobEndpoint);
    }

    /// <summary>The connection string without the key, for messages and logs.</summary>
    public override string ToString() => $"AccountName={AccountName};BlobEndpoint={BlobEndpoint}";
}
