namespace Entrupy.Client;

/// <summary>Settings of an <see cref="EntrupyClient"/> or <see cref="EntrupyAdminClient"/>.</summary>
public sealed class EntrupyClientOptions
{
    /// <summary>Root address of the silo's API, e.g. <c>https://registry.example.com/</c>. A path prefix is kept.</summary>
    public Uri BaseAddress { get; set; } = new("http://127.0.0.1:5000/");

    /// <summary>API key sent as <c>Authorization: Bearer</c>: a tenant key (<c>ek_…</c>), or the admin bootstrap key for <see cref="EntrupyAdminClient"/>.</summary>
    public string ApiKey { get; set; } = "";

    /// <summary>How many times a transient failure is retried after the first attempt (0: never retry).</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>Delay before the first retry; it doubles with each further retry (with random jitter).</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Upper bound of the computed backoff between two attempts.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Longest <c>Retry-After</c> the client waits for on its own. A server asking for longer ends the call with an
    /// <see cref="EntrupyApiException"/> carrying <see cref="EntrupyApiException.RetryAfter"/>, so the caller decides.
    /// </summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Time limit of each attempt (sending the request and reading the whole response).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>Handler the client's own <see cref="HttpClient"/> sends through (e.g. a proxy or test handler; the caller disposes it); null: a default <see cref="SocketsHttpHandler"/>.</summary>
    public HttpMessageHandler? Handler { get; set; }

    /// <summary>Value of the <c>User-Agent</c> header.</summary>
    public string UserAgent { get; set; } = "Entrupy.Client/1.0";

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(BaseAddress);
        if (!BaseAddress.IsAbsoluteUri) throw new ArgumentException("BaseAddress must be an absolute URI.", nameof(BaseAddress));
        if (string.IsNullOrWhiteSpace(ApiKey)) throw new ArgumentException("ApiKey is required.", nameof(ApiKey));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRetries, nameof(MaxRetries));
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialBackoff, TimeSpan.Zero, nameof(InitialBackoff));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBackoff, TimeSpan.Zero, nameof(MaxBackoff));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRetryAfter, TimeSpan.Zero, nameof(MaxRetryAfter));
        if (Timeout <= TimeSpan.Zero && Timeout != System.Threading.Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(Timeout), "Timeout must be positive or infinite.");
    }

    /// <summary>A copy, so later changes to the caller's instance do not affect a running client.</summary>
    internal EntrupyClientOptions Clone() => (EntrupyClientOptions)MemberwiseClone();
}
