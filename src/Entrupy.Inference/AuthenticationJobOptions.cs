namespace Entrupy.Inference;

/// <summary>How the background runner works through authentication jobs (section <c>AuthenticationJobs</c>).</summary>
public sealed class AuthenticationJobOptions
{
    /// <summary>
    /// Whether this silo runs jobs (default true). False: it accepts submissions and serves results, and leaves running
    /// the models to silos where this is true (e.g. an API-only front silo).
    /// </summary>
    public bool RunJobs { get; set; } = true;

    /// <summary>How often the runner looks for due jobs when nothing new was submitted (default 1 s; a submission wakes it at once).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Jobs run at the same time by one silo (default 2: the model runs on the silo's own cores).</summary>
    public int Concurrency { get; set; } = 2;

    /// <summary>Delay before retrying a job that failed for a reason that may pass (default 2 s); doubles each attempt.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest delay between attempts (default 5 min).</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Attempts before a job that keeps failing is handed to a human as needs_review (default 8).</summary>
    public int MaxAttempts { get; set; } = 8;

    /// <summary>How long a runner holds a job before another may take it (default 2 min; covers a runner that died mid-job).</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(2);
}
