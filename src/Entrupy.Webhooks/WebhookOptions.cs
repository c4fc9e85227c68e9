namespace Entrupy.Webhooks;

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
