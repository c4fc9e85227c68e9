namespace Entrupy.Silo.Api;

/// <summary>Admin access (section <c>Admin</c>).</summary>
public sealed class AdminOptions
{
    /// <summary>Admin key for the first run (<c>Admin:BootstrapKey</c> or env <c>ENTRUPY_BOOTSTRAP_KEY</c>). Null disables the admin endpoints.</summary>
    public string? BootstrapKey { get; set; }
}

/// <summary>Request caps (section <c>Limits</c>).</summary>
public sealed class LimitOptions
{
    /// <summary>Largest accepted request body, in bytes (default 16 MiB).</summary>
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Most images accepted in one multipart request (default 8).</summary>
    public int MaxImagesPerRequest { get; set; } = 8;
}

/// <summary>Per-key token-bucket rate limits (section <c>RateLimits</c>).</summary>
public sealed class RateLimitOptions
{
    /// <summary>Bucket size: the burst a key may send at once (default 100).</summary>
    public int TokenLimit { get; set; } = 100;

    /// <summary>Tokens added each <see cref="ReplenishmentPeriod"/> (default 50).</summary>
    public int TokensPerPeriod { get; set; } = 50;

    /// <summary>How often tokens are added (default 1 s).</summary>
    public TimeSpan ReplenishmentPeriod { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>Idempotency records (section <c>Idempotency</c>).</summary>
public sealed class IdempotencyOptions
{
    /// <summary>How long a completed response is kept for replay (default 24 h).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>After this long an unfinished request no longer blocks a retry (default 2 min; covers a crashed silo).</summary>
    public TimeSpan InProgressTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
