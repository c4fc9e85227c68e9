namespace Entrupy.Grains.Persistence.AzureStorage;

/// <summary>Where and how the Azure Blob providers talk to storage. Defaults suit an API that must answer 503 fast.</summary>
public sealed class AzureBlobStorageOptions
{
    /// <summary>
    /// Azure Storage connection string with Shared Key (<c>AccountName=..;AccountKey=..</c>, optionally <c>BlobEndpoint=..</c>
    /// or <c>EndpointSuffix=..</c>), or <c>UseDevelopmentStorage=true</c> for Azurite on its default port.
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>Blob container holding the records; created on first use. 3-63 lowercase letters, digits and hyphens.</summary>
    public string ContainerName { get; set; } = "grainstate";

    /// <summary>Tries per operation, the first included, before a transient failure becomes <see cref="StorageUnavailableException"/>.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Time limit of one try (connect, send, read the answer).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time limit for opening a TCP connection; small, so a stopped endpoint fails fast.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Back-off before the second try; doubled for each further try, with ±50 % jitter (longer if Azure sends Retry-After).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Total time one operation may take, tries and back-offs included: no try runs, and no back-off waits, past it.
    /// This is the bound on how long a grain call waits for storage before it fails with
    /// <see cref="StorageUnavailableException"/> (which the API answers as 503).
    /// </summary>
    public TimeSpan RetryBudget { get; set; } = TimeSpan.FromSeconds(6);

    internal AzureBlobStorageOptions Clone() => (AzureBlobStorageOptions)MemberwiseClone();

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
            throw new ArgumentException("AzureBlobStorageOptions.ConnectionString is empty: set Storage:Azure:ConnectionString or AZURE_STORAGE_CONNECTION_STRING.");
        if (!IsValidContainerName(ContainerName))
            throw new ArgumentException($"Container name '{ContainerName}' is invalid: use 3-63 lowercase letters, digits and single hyphens, starting with a letter or digit.");
        if (MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "At least one try is needed.");
        if (AttemptTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(AttemptTimeout), AttemptTimeout, "Must be positive.");
        if (ConnectTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, "Must be positive.");
        if (RetryBaseDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RetryBaseDelay), RetryBaseDelay, "Must not be negative.");
        if (RetryBudget <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RetryBudget), RetryBudget, "Must be positive.");
    }

    internal static bool IsValidContainerName(string? name)
        => name is { Length: >= 3 and <= 63 }
           && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1])
           && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
           && !name.Contains("--", StringComparison.Ordinal)
           && !name.Any(char.IsAsciiLetterUpper);
}
