using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Orleans;
using Entrupy.Tenancy;
using Microsoft.Extensions.Options;

namespace Entrupy.Webhooks;

/// <summary>
/// Sends due outbox entries: signs each attempt, records it in the subscription's delivery log, and either removes the
/// entry (2xx, given up, or subscription deleted) or reschedules it with exponential backoff plus jitter.
/// </summary>
internal sealed class WebhookDispatcher(
    IGrainFactory grains,
    IHttpClientFactory httpClients,
    IOptions<WebhookOptions> options,
    TimeProvider clock,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    public const string HttpClientName = "webhooks";
    private const int BatchSize = 32;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var outbox = grains.GetGrain<IWebhookOutboxGrain>(WebhookOutboxGrain.Key);
                // The lease outlives one attempt, so no other dispatcher picks the entry up meanwhile.
                var due = await outbox.LeaseDue(clock.GetUtcNow(), BatchSize, settings.RequestTimeout + TimeSpan.FromSeconds(30));
                await Task.WhenAll(due.Select(e => DeliverAsync(outbox, e, settings, stoppingToken)));
                if (due.Length == BatchSize) continue;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "webhook dispatch pass failed; retrying");
            }
            try { await Task.Delay(settings.PollInterval, clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    private async Task DeliverAsync(IWebhookOutboxGrain outbox, OutboxEntry entry, WebhookOptions settings, CancellationToken stoppingToken)
    {
        var subscription = await grains.GetGrain<ITenantGrain>(entry.TenantId).GetSubscription(entry.SubscriptionId);
        if (subscription is null)
        {
            await outbox.Remove(entry.Id); // unsubscribed meanwhile: nobody to deliver to
            return;
        }

        var attempt = entry.Attempts + 1;
        var started = clock.GetUtcNow();
        var sw = Stopwatch.StartNew();
        int? status = null;
        string? error = null;
        try
        {
            var body = Encoding.UTF8.GetBytes(entry.Body);
            var timestamp = started.ToUnixTimeSeconds();
            using var request = new HttpRequestMessage(HttpMethod.Post, subscription.Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json") { CharSet = "utf-8" };
            request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(subscription.Secret, timestamp, body));
            request.Headers.Add(WebhookSignature.EventIdHeader, entry.EventId);
            request.Headers.Add(WebhookSignature.EventKindHeader, entry.Kind);
            request.Headers.Add("Entrupy-Delivery-Attempt", attempt.ToString(CultureInfo.InvariantCulture));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(settings.RequestTimeout);
            using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode) error = $"receiver answered {status}";
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return; // shutting down: the lease lapses and the entry stays in the outbox
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            error = e is OperationCanceledException ? $"no answer within {settings.RequestTimeout.TotalSeconds:0.###} s" : e.Message;
        }

        var succeeded = error is null;
        DateTimeOffset? next = succeeded || attempt >= settings.MaxAttempts ? null : started + Backoff(attempt, settings);
        await grains.GetGrain<IDeliveryLogGrain>(entry.SubscriptionId).Append(
            new DeliveryAttempt(entry.Id, entry.EventId, entry.Kind, attempt, started, succeeded, status, error, Math.Round(sw.Elapsed.TotalMilliseconds, 2), next),
            settings.DeliveryLogSize);
        if (next is { } at) await outbox.Reschedule(entry.Id, at);
        else
        {
            if (!succeeded) logger.LogWarning("webhook delivery {Delivery} to {Subscription} given up after {Attempts} attempts", entry.Id, entry.SubscriptionId, attempt);
            await outbox.Remove(entry.Id);
        }
    }

    /// <summary>BaseDelay · 2^(attempt−1), capped at MaxDelay, plus up to JitterFraction of it at random.</summary>
    internal static TimeSpan Backoff(int attempt, WebhookOptions settings)
    {
        var exponential = settings.BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30));
        var capped = Math.Min(exponential, settings.MaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (1 + settings.JitterFraction * Random.Shared.NextDouble()));
    }
}
