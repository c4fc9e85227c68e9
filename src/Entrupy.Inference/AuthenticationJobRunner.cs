using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Entrupy.Registry;
using Entrupy.Registry.Inference;
using Entrupy.Webhooks;
using Microsoft.Extensions.Options;

namespace Entrupy.Inference;

/// <summary>Wakes the runner when a job is submitted, so it does not wait for its next poll.</summary>
internal sealed class AuthenticationJobSignal
{
    private readonly SemaphoreSlim wake = new(0, 1);

    /// <summary>Asks the runner to look for due jobs now.</summary>
    public void Notify()
    {
        // At most one wake-up is pending: several submissions while the runner is busy need only one more pass.
        try { wake.Release(); }
        catch (SemaphoreFullException) { }
    }

    /// <summary>Waits for <see cref="Notify"/> or <paramref name="timeout"/>.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => wake.WaitAsync(timeout, cancellationToken);
}

/// <summary>
/// Runs authentication jobs: the item's pending result goes through <see cref="IAuthenticatorGrain"/>, the verdict is
/// written to the item (needs_review through the tenant's review queue), the <c>authentication.finished</c> webhook is
/// queued, and only then the job is removed. Every step is idempotent, so a job interrupted anywhere (a silo stop, a
/// store outage) is simply run again from the top: jobs left in <see cref="IAuthenticationJobsGrain"/> are resumed on start.
/// </summary>
internal sealed class AuthenticationJobRunner(
    IGrainFactory grains,
    AuthenticationJobPayloads payloads,
    IWebhookPublisher webhooks,
    AuthenticationJobSignal signal,
    IOptions<AuthenticationJobOptions> options,
    TimeProvider clock,
    ILogger<AuthenticationJobRunner> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.RunJobs)
        {
            logger.LogInformation("authentication jobs are not run on this silo (AuthenticationJobs:RunJobs is false)");
            return;
        }
        var jobs = grains.GetGrain<IAuthenticationJobsGrain>(AuthenticationJobsGrain.Key);
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            try
            {
                var due = await jobs.LeaseDue(clock.GetUtcNow(), Math.Max(1, settings.Concurrency), settings.LeaseDuration);
                await Task.WhenAll(due.Select(job => RunAsync(jobs, job, settings, stoppingToken)));
                busy = due.Length > 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "authentication job pass failed; retrying");
            }
            if (busy) continue; // more may be due: look again without waiting
            try { await signal.WaitAsync(settings.PollInterval, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    private async Task RunAsync(IAuthenticationJobsGrain jobs, AuthenticationJob job, AuthenticationJobOptions settings, CancellationToken stoppingToken)
    {
        try
        {
            await FinishAsync(job, giveUp: null, stoppingToken);
            await jobs.Remove(job.Id);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the lease lapses and the job runs again after the restart.
        }
        catch (Exception e)
        {
            var attempt = job.Attempts + 1;
            if (attempt >= settings.MaxAttempts)
            {
                logger.LogError(e, "authentication job {Job} failed {Attempts} times; handing it to a reviewer", job.Id, attempt);
                try
                {
                    await FinishAsync(job, giveUp: $"the model could not be run after {attempt} attempts ({e.GetType().Name})", stoppingToken);
                    await jobs.Remove(job.Id);
                    return;
                }
                catch (Exception again) when (again is not OperationCanceledException)
                {
                    logger.LogWarning(again, "authentication job {Job}: could not hand it to a reviewer either; retrying later", job.Id);
                }
            }
            else
            {
                logger.LogWarning(e, "authentication job {Job} attempt {Attempt} failed; retrying", job.Id, attempt);
            }
            try
            {
                await jobs.Reschedule(job.Id, clock.GetUtcNow() + Backoff(attempt, settings), $"{e.GetType().Name}: {e.Message}");
            }
            catch (Exception rescheduleFailed) when (rescheduleFailed is not OperationCanceledException)
            {
                // The lease lapses on its own, so the job is retried anyway.
                logger.LogWarning(rescheduleFailed, "authentication job {Job} could not be rescheduled", job.Id);
            }
        }
    }

    /// <summary>Takes the job's authentication from wherever it got to up to a durable verdict with its webhook queued.</summary>
    /// <param name="job">The job.</param>
    /// <param name="giveUp">Non-null: skip the model and hand the authentication to a reviewer for this reason.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    private async Task FinishAsync(AuthenticationJob job, string? giveUp, CancellationToken cancellationToken)
    {
        var item = grains.GetItemGrain(job.TenantId, job.CustomerItemId);
        var queue = grains.GetGrain<IReviewQueueGrain>(job.TenantId);
        var current = (await item.GetItem()).Authentications.FirstOrDefault(a => a.AuthenticationId == job.AuthenticationId)
            // Only if the item's record was lost: record it again so there is something to update.
            ?? await item.RecordAuthentication(new AuthenticationRequest { AuthenticationId = job.AuthenticationId, ModelId = job.Model });
        string? problem = null;

        if (current.Status == AuthenticationStatus.Pending)
        {
            AuthenticationUpdate update;
            if (giveUp is not null)
            {
                (update, problem) = (new AuthenticationUpdate { Status = AuthenticationStatus.NeedsReview }, giveUp);
            }
            else if (await payloads.ReadAsync(job.Id, cancellationToken) is not { } images)
            {
                (update, problem) = (new AuthenticationUpdate { Status = AuthenticationStatus.NeedsReview }, "the submitted captures were not found in storage");
            }
            else
            {
                (update, problem) = await JudgeAsync(job, images);
            }
            current = update.Status == AuthenticationStatus.NeedsReview
                ? await queue.MarkForReview(job.CustomerItemId, job.AuthenticationId, update)
                : await item.UpdateAuthentication(job.AuthenticationId, update);
        }
        else if (current is { Status: AuthenticationStatus.NeedsReview, ReviewerVerdict: null })
        {
            // Judged before an interruption: make sure it reached the queue (a no-op when it did).
            current = await queue.MarkForReview(job.CustomerItemId, job.AuthenticationId, null);
        }

        // A reviewer's verdict already sent its own webhook; repeating the model's one now would report a stale status.
        if (current.ReviewerVerdict is null)
            await webhooks.PublishAsync(job.TenantId, WebhookEventKinds.AuthenticationFinished,
                AuthenticationWebhook.Payload(job.CustomerItemId, current, problem), cancellationToken);
        await payloads.DeleteAsync(job.Id, cancellationToken);
        logger.LogInformation("authentication {Job} finished: {Status}", job.Id, ReviewQueueGrain.Wire(current.Status));
    }

    /// <summary>Runs the model. A verdict the model cannot give (every capture unusable, model withdrawn) goes to a reviewer.</summary>
    private async Task<(AuthenticationUpdate Update, string? Problem)> JudgeAsync(AuthenticationJob job, byte[][] images)
    {
        try
        {
            var verdict = await grains.GetGrain<IAuthenticatorGrain>(0).Authenticate(job.Model, images);
            var scores = new Dictionary<string, double>(verdict.Scores);
            if (verdict.RejectedCaptures.Count > 0) scores["captures_rejected"] = verdict.RejectedCaptures.Count;
            var status = verdict.Status is AuthenticationStatus.Authentic or AuthenticationStatus.NotAuthentic ? verdict.Status : AuthenticationStatus.NeedsReview;
            var problem = verdict.RejectedCaptures.Count == 0 ? null
                : "captures not used: " + string.Join("; ", verdict.RejectedCaptures.OrderBy(r => r.Key).Select(r => $"#{r.Key} {r.Value}"));
            return (new AuthenticationUpdate { Status = status, Scores = scores }, problem);
        }
        catch (RegistryValidationException e)
        {
            return (new AuthenticationUpdate { Status = AuthenticationStatus.NeedsReview, Scores = new() { ["captures_rejected"] = images.Length } }, e.Message);
        }
        catch (RegistryNotFoundException e)
        {
            return (new AuthenticationUpdate { Status = AuthenticationStatus.NeedsReview }, e.Message);
        }
    }

    /// <summary>BaseDelay · 2^(attempt−1), capped at MaxDelay.</summary>
    internal static TimeSpan Backoff(int attempt, AuthenticationJobOptions settings) =>
        TimeSpan.FromMilliseconds(Math.Min(settings.BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30)), settings.MaxDelay.TotalMilliseconds));
}

/// <summary>The <c>data</c> of an <c>authentication.finished</c> webhook.</summary>
internal static class AuthenticationWebhook
{
    /// <summary>
    /// <c>{customer_item_id, authentication: AuthenticationResult, problem}</c>; <c>problem</c> says why the model could
    /// not decide on its own (unusable captures, …) and is null otherwise.
    /// </summary>
    public static object Payload(string customerItemId, AuthenticationResult result, string? problem) =>
        new { customer_item_id = customerItemId, authentication = result, problem };
}
