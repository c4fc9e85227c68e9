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

/// <summary>Webhook delivery (section <c>Webhooks</c>).</summary>
public sealed class WebhookOptions
{
    /// <summary>How often the dispatcher looks for due deliveries (default 1 s).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Delay before the first retry; doubles each attempt (default 10 s).</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest delay between attempts (default 1 h).</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Attempts before a delivery is given up (default 10).</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Random spread added to each delay, as a fraction of it (default 0.2 = up to +20 %).</summary>
    public double JitterFraction { get; set; } = 0.2;

    /// <summary>Time allowed for the receiver to answer one attempt (default 10 s).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempt records kept per subscription (default 200).</summary>
    public int DeliveryLogSize { get; set; } = 200;
}
