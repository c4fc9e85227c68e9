using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Xml.Linq;

namespace Entrupy.Grains.Persistence.AzureStorage.Rest;

/// <summary>Precondition of a write: none, "the blob must not exist", or "the blob's ETag must be this".</summary>
internal readonly record struct BlobCondition(string? IfMatchETag, bool IfNotExists)
{
    public static BlobCondition None => default;
    public static BlobCondition MustNotExist => new(null, true);
    public static BlobCondition MustMatch(string etag) => new(etag, false);
}

/// <summary>A write found no container (deleted, or lost by an emulator): the caller may create it and try again.</summary>
internal sealed class ContainerNotFoundException(string container) : Exception($"Blob container '{container}' does not exist.");

/// <summary>A downloaded blob.</summary>
internal sealed record BlobDownload(byte[] Content, string ETag);

/// <summary>One entry of a blob listing.</summary>
internal sealed record BlobListItem(string Name, string ETag, long Length, DateTimeOffset LastModified);

/// <summary>
/// A minimal Azure Blob Storage REST client (Shared Key, API version <see cref="ApiVersion"/>) with bounded retries.
/// Transient failures (connection refused, timeouts, 408/429/500/502/503/504) are retried with exponential back-off and
/// jitter, within a total time budget, then surface as <see cref="StorageUnavailableException"/>; other failures as <see cref="GrainStorageException"/> carrying
/// Azure's error code and message. Precondition failures are returned to the caller, which knows what they mean.
/// </summary>
internal sealed class BlobRestClient : IDisposable
{
    /// <summary>The x-ms-version sent; Azurite 3.37 and Azure accept it without --skipApiVersionCheck.</summary>
    public const string ApiVersion = "2021-08-06";

    private readonly StorageConnectionString _account;
    private readonly SharedKeySigner _signer;
    private readonly HttpClient _http;
    private readonly AzureBlobStorageOptions _options;
    private readonly string _endpointBase;

    public BlobRestClient(StorageConnectionString account, AzureBlobStorageOptions options)
    {
        _account = account;
        _options = options;
        _signer = new SharedKeySigner(account.AccountName, account.AccountKey);
        _endpointBase = account.BlobEndpoint.AbsoluteUri.TrimEnd('/');
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
        };
        // Each try has its own deadline (AttemptTimeout); the client-wide one must not cut retries short.
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The endpoint, for messages.</summary>
    public string Endpoint => _endpointBase;

    /// <summary>Creates the container unless it exists.</summary>
    public async Task CreateContainerIfNotExistsAsync(string container, CancellationToken cancellationToken)
    {
        var result = await SendAsync("create container " + container,
            () => new HttpRequestMessage(HttpMethod.Put, ContainerUri(container, "restype=container")), cancellationToken).ConfigureAwait(false);
        using var response = result.Response;
        if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.Conflict) return; // 409 ContainerAlreadyExists
        throw await FailureAsync("create container " + container, response).ConfigureAwait(false);
    }

    /// <summary>Deletes the container and everything in it; false when it did not exist.</summary>
    public async Task<bool> DeleteContainerAsync(string container, CancellationToken cancellationToken)
    {
        var result = await SendAsync("delete container " + container,
            () => new HttpRequestMessage(HttpMethod.Delete, ContainerUri(container, "restype=container")), cancellationToken).ConfigureAwait(false);
        using var response = result.Response;
        if (response.IsSuccessStatusCode) return true;
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        throw await FailureAsync("delete container " + container, response).ConfigureAwait(false);
    }

    /// <summary>Uploads a block blob in one request. Returns its new ETag, or null when <paramref name="condition"/> failed.</summary>
    public async Task<string?> PutBlockBlobAsync(string container, string blobName, ReadOnlyMemory<byte> content, BlobCondition condition, CancellationToken cancellationToken)
    {
        var operation = $"put blob {container}/{blobName}";
        var result = await SendAsync(operation, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, BlobUri(container, blobName));
            request.Content = new ReadOnlyMemoryContent(content);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            request.Headers.TryAddWithoutValidation("x-ms-blob-type", "BlockBlob");
            AddCondition(request, condition);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        using var response = result.Response;
        if (response.IsSuccessStatusCode) return ETagOf(response);
        if (IsContainerNotFound(response)) throw new ContainerNotFoundException(container);
        if (IsConditionFailure(response.StatusCode, condition))
        {
            ThrowIfOutcomeUnknown(result, operation);
            return null;
        }

        throw await FailureAsync(operation, response).ConfigureAwait(false);
    }

    /// <summary>Downloads a blob, or null when it does not exist.</summary>
    public async Task<BlobDownload?> GetBlobAsync(string container, string blobName, CancellationToken cancellationToken)
    {
        var operation = $"get blob {container}/{blobName}";
        var result = await SendAsync(operation, () => new HttpRequestMessage(HttpMethod.Get, BlobUri(container, blobName)), cancellationToken)
            .ConfigureAwait(false);
        using var response = result.Response;
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        if (!response.IsSuccessStatusCode) throw await FailureAsync(operation, response).ConfigureAwait(false);
        var content = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return new BlobDownload(content, ETagOf(response));
    }

    /// <summary>The blob's current ETag, or null when it does not exist (a HEAD request: no content is downloaded).</summary>
    public async Task<string?> GetBlobETagAsync(string container, string blobName, CancellationToken cancellationToken)
    {
        var operation = $"get blob properties {container}/{blobName}";
        var result = await SendAsync(operation, () => new HttpRequestMessage(HttpMethod.Head, BlobUri(container, blobName)), cancellationToken)
            .ConfigureAwait(false);
        using var response = result.Response;
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        if (!response.IsSuccessStatusCode) throw await FailureAsync(operation, response).ConfigureAwait(false);
        return ETagOf(response);
    }

    /// <summary>
    /// Deletes a blob. Returns false when it did not exist or <paramref name="ifMatchETag"/> did not match (the caller
    /// tells the two apart if it cares).
    /// </summary>
    public async Task<bool> DeleteBlobAsync(string container, string blobName, string? ifMatchETag, CancellationToken cancellationToken)
    {
        var operation = $"delete blob {container}/{blobName}";
        var condition = ifMatchETag is null ? BlobCondition.None : BlobCondition.MustMatch(ifMatchETag);
        var result = await SendAsync(operation, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Delete, BlobUri(container, blobName));
            AddCondition(request, condition);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        using var response = result.Response;
        if (response.IsSuccessStatusCode) return true;
        if (response.StatusCode == HttpStatusCode.NotFound || IsConditionFailure(response.StatusCode, condition))
        {
            // A retried delete that finds nothing may have deleted on an earlier, unanswered try.
            ThrowIfOutcomeUnknown(result, operation);
            return false;
        }

        throw await FailureAsync(operation, response).ConfigureAwait(false);
    }

    /// <summary>Lists the blobs whose names start with <paramref name="prefix"/>, in name order, following continuation markers.</summary>
    public async Task<IReadOnlyList<BlobListItem>> ListBlobsAsync(string container, string prefix, CancellationToken cancellationToken)
    {
        var items = new List<BlobListItem>();
        string? marker = null;
        do
        {
            var query = "restype=container&comp=list&maxresults=5000";
            if (prefix.Length > 0) query += "&prefix=" + Uri.EscapeDataString(prefix);
            if (marker is not null) query += "&marker=" + Uri.EscapeDataString(marker);
            var operation = $"list blobs {container}/{prefix}*";
            var result = await SendAsync(operation, () => new HttpRequestMessage(HttpMethod.Get, ContainerUri(container, query)), cancellationToken)
                .ConfigureAwait(false);
            using var response = result.Response;
            if (response.StatusCode == HttpStatusCode.NotFound) return items; // no container: nothing stored yet
            if (!response.IsSuccessStatusCode) throw await FailureAsync(operation, response).ConfigureAwait(false);
            var xml = XDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            var root = xml.Root ?? throw new GrainStorageException($"Azure Blob Storage: {operation} answered an empty listing document.");
            foreach (var blob in root.Element("Blobs")?.Elements("Blob") ?? [])
            {
                var properties = blob.Element("Properties");
                items.Add(new BlobListItem(
                    (string?)blob.Element("Name") ?? "",
                    QuoteETag((string?)properties?.Element("Etag")),
                    long.TryParse((string?)properties?.Element("Content-Length"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var length) ? length : 0,
                    DateTimeOffset.TryParse((string?)properties?.Element("Last-Modified"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var modified)
                        ? modified
                        : default));
            }

            marker = (string?)root.Element("NextMarker");
        } while (!string.IsNullOrEmpty(marker));

        return items;
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private Uri ContainerUri(string container, string query) => new($"{_endpointBase}/{container}?{query}");

    private Uri BlobUri(string container, string blobName)
        // Each path segment escaped on its own: '/' separates virtual folders, everything else is data.
        => new($"{_endpointBase}/{container}/{string.Join('/', blobName.Split('/').Select(Uri.EscapeDataString))}");

    private static void AddCondition(HttpRequestMessage request, BlobCondition condition)
    {
        if (condition.IfNotExists) request.Headers.TryAddWithoutValidation("If-None-Match", "*");
        if (condition.IfMatchETag is not null) request.Headers.TryAddWithoutValidation("If-Match", condition.IfMatchETag);
    }

    private static bool IsContainerNotFound(HttpResponseMessage response)
        => response.StatusCode == HttpStatusCode.NotFound
           && response.Headers.TryGetValues("x-ms-error-code", out var codes) && codes.Contains("ContainerNotFound");

    private static bool IsConditionFailure(HttpStatusCode status, BlobCondition condition)
        // 412 ConditionNotMet for If-Match (and If-None-Match on some versions), 409 BlobAlreadyExists for If-None-Match: *,
        // 404 for If-Match on a blob that is gone.
        => (condition.IfNotExists || condition.IfMatchETag is not null)
           && status is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict or HttpStatusCode.NotFound;

    private static void ThrowIfOutcomeUnknown(SendResult result, string operation)
    {
        // An earlier try may have been applied without us hearing the answer; then the precondition failure may be our
        // own write, not another writer's. Saying "conflict" would be a lie, so report the honest "unknown".
        if (result.EarlierTryMayHaveApplied)
        {
            throw new StorageUnavailableException(
                $"Azure Blob Storage: {operation}: an earlier try got no answer ({result.EarlierFailure}) and the retry found the " +
                "precondition no longer met, so the outcome is unknown. Re-read before retrying.");
        }
    }

    // Listings carry the ETag bare, headers quoted; callers compare them, so quote like the headers.
    private static string QuoteETag(string? etag)
        => string.IsNullOrEmpty(etag) || etag.StartsWith('"') ? etag ?? "" : $"\"{etag}\"";

    private static string ETagOf(HttpResponseMessage response)
        => response.Headers.TryGetValues("ETag", out var values) ? values.First() : "";

    private readonly record struct SendResult(HttpResponseMessage Response, bool EarlierTryMayHaveApplied, string? EarlierFailure);

    /// <summary>
    /// Sends with bounded retries; returns the first non-transient answer (success or not) for the caller to judge.
    /// Bounded twice: at most <see cref="AzureBlobStorageOptions.MaxAttempts"/> tries, and no try or back-off runs past
    /// <see cref="AzureBlobStorageOptions.RetryBudget"/> from the start, so a caller always hears back within the budget.
    /// </summary>
    private async Task<SendResult> SendAsync(string operation, Func<HttpRequestMessage> createRequest, CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        var budget = _options.RetryBudget;
        var mayHaveApplied = false;
        string? lastFailure = null;
        Exception? lastException = null;
        for (var attempt = 1; ; attempt++)
        {
            // The last try gets what is left of the budget, never more than its own limit.
            var attemptLimit = Min(_options.AttemptTimeout, budget - started.Elapsed);
            using var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attemptTimeout.CancelAfter(attemptLimit > TimeSpan.Zero ? attemptLimit : TimeSpan.FromMilliseconds(1));
            using var request = createRequest();
            request.Headers.TryAddWithoutValidation("x-ms-version", ApiVersion);
            _signer.Sign(request, DateTimeOffset.UtcNow);
            bool sent;
            TimeSpan? retryAfter = null;
            try
            {
                var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, attemptTimeout.Token).ConfigureAwait(false);
                if (!IsTransient(response.StatusCode)) return new SendResult(response, mayHaveApplied, lastFailure);
                lastFailure = $"HTTP {(int)response.StatusCode} {await ErrorSummaryAsync(response).ConfigureAwait(false)}";
                lastException = null;
                retryAfter = response.Headers.RetryAfter?.Delta;
                response.Dispose();
                sent = true;
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                lastFailure = $"no answer within {attemptLimit.TotalSeconds:0.###} s";
                lastException = ex;
                sent = true;
            }
            catch (HttpRequestException ex)
            {
                // Refused or unreachable: the request never left, so it certainly was not applied.
                sent = ex.HttpRequestError is not (HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
                       && ex.InnerException is not SocketException { SocketErrorCode: SocketError.ConnectionRefused };
                lastFailure = ex.InnerException is null ? ex.Message : $"{ex.Message} ({ex.InnerException.Message})";
                lastException = ex;
            }

            // A write is only "maybe applied" when it reached the server; reads are harmless either way.
            mayHaveApplied |= sent && request.Method != HttpMethod.Get && request.Method != HttpMethod.Head;
            var backoff = _options.RetryBaseDelay * Math.Pow(2, attempt - 1) * (0.5 + Random.Shared.NextDouble());
            if (retryAfter is { } serverAsked && serverAsked > backoff) backoff = serverAsked;
            // Give up rather than start a try that could not finish inside the budget: a fast, honest 503 beats a late one.
            if (attempt >= _options.MaxAttempts || started.Elapsed + backoff >= budget)
            {
                throw new StorageUnavailableException(
                    $"Azure Blob Storage at {_endpointBase} is unavailable: {operation} failed {attempt} time{(attempt == 1 ? "" : "s")} in " +
                    $"{started.Elapsed.TotalSeconds:0.0} s (retry budget {budget.TotalSeconds:0.#} s); last: {lastFailure}.", lastException);
            }

            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>
    /// Worth another try: timeouts, throttling and the server errors Azure documents as transient. Never 409/412 (a
    /// precondition is an answer, not a failure), nor 501/505 and other 4xx, which a retry cannot change.
    /// </summary>
    internal static bool IsTransient(HttpStatusCode status)
        => status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
            or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway
            or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    private async Task<Exception> FailureAsync(string operation, HttpResponseMessage response)
    {
        var summary = await ErrorSummaryAsync(response).ConfigureAwait(false);
        var hint = response.StatusCode == HttpStatusCode.Forbidden
            ? $" Check AccountName ({_account.AccountName}) and AccountKey in the connection string, and the machine clock."
            : "";
        return new GrainStorageException(
            $"Azure Blob Storage at {_endpointBase} refused {operation}: HTTP {(int)response.StatusCode} {summary}.{hint}");
    }

    /// <summary>"ErrorCode: message" from the x-ms-error-code header and the XML error body, whichever exist.</summary>
    private static async Task<string> ErrorSummaryAsync(HttpResponseMessage response)
    {
        var code = response.Headers.TryGetValues("x-ms-error-code", out var codes) ? codes.First() : null;
        string? message = null;
        try
        {
            var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            if (body.TrimStart().StartsWith('<'))
            {
                var error = XDocument.Parse(body).Root;
                code ??= (string?)error?.Element("Code");
                message = ((string?)error?.Element("Message"))?.Split('\n')[0].Trim();
            }
        }
        catch (System.Xml.XmlException)
        {
            // Not Azure's XML error format (a proxy's page, say): the status code alone must do.
        }

        return (code, message) switch
        {
            (null, null) => response.ReasonPhrase ?? "",
            (not null, null) => code,
            (null, not null) => message,
            _ => $"{code}: {message}",
        };
    }
}
