using Entrupy.Registry.Api;
using Entrupy.Registry.Inference;
using Entrupy.Webhooks;
using Orleans;

namespace Entrupy.Registry;

/// <summary>Times the stages of a use case (the API reports them in <c>Server-Timing</c>).</summary>
public interface IStageTimer
{
    /// <summary>Runs <paramref name="stage"/> and records how long it took under <paramref name="name"/>.</summary>
    Task<T> Time<T>(string name, Func<Task<T>> stage);
}

/// <summary>One rejected capture of a request.</summary>
/// <param name="Index">Index of the image, from 0.</param>
/// <param name="Reason">Stable rejection code (snake_case).</param>
/// <param name="Message">How to retake it.</param>
/// <param name="Quality">Quality figures, when the capture could be decoded.</param>
public sealed record RejectedCapture(int Index, string Reason, string Message, CaptureQuality? Quality);

/// <summary>A request's captures did not pass the quality gate; nothing was stored.</summary>
public sealed class CaptureRejectedException(IReadOnlyList<RejectedCapture> rejections)
    : Exception(string.Join(" ", rejections.Select(r => $"Image {r.Index} was rejected ({r.Reason}): {r.Message}")) +
                " Nothing was stored; retake the rejected captures and send the request again.")
{
    /// <summary>The rejected captures.</summary>
    public IReadOnlyList<RejectedCapture> Rejections { get; } = rejections;
}

/// <summary>
/// The item use cases end to end, as the API offers them: each extracts the captures on the inference grains, does the
/// registry's work (<see cref="IItemRegistry"/>, the item grain), keeps the tenant's item directory current and
/// publishes the webhook event, in that order, so an event is published only once what it reports is durable.
/// Endpoints read requests and map results; they hold no steps of their own.
/// </summary>
public sealed class ItemUseCases(IGrainFactory grains, IItemRegistry registry, TenantItemDirectory directory, IWebhookPublisher webhooks, TimeProvider clock)
{
    private static readonly IStageTimer Untimed = new NoTimer();

    /// <summary>Registers (or re-registers) an item from its captures.</summary>
    /// <param name="key">The item.</param>
    /// <param name="images">The encoded captures.</param>
    /// <param name="metadata">Capture metadata and an optional custody event.</param>
    /// <param name="requestId">Stable id of this request (a retry must pass the same one: it registers once).</param>
    /// <param name="timer">Stage timing, or null.</param>
    /// <param name="cancellationToken">Cancels the waits (not work already handed to grains).</param>
    /// <exception cref="CaptureRejectedException">A capture failed the quality gate; nothing was stored.</exception>
    public async Task<RegistrationResponse> RegisterAsync(ItemKey key, byte[][] images, RegistrationMetadata metadata, string requestId,
        IStageTimer? timer = null, CancellationToken cancellationToken = default)
    {
        timer ??= Untimed;
        metadata = metadata with { CapturedAt = metadata.CapturedAt ?? clock.GetUtcNow() };
        var captures = await timer.Time("extract", () => ExtractAsync(images, FingerprintUse.Enrolment));
        var response = await timer.Time("register", () => registry.RegisterAsync(key, captures, metadata, requestId, cancellationToken));
        response = response with { Captures = Qualities(captures) };
        await timer.Time("directory", () => Done(directory.RecordAsync(key, response.Registration.Number,
            response.CustodyEvent is { } e ? e.Sequence + 1 : null, clock.GetUtcNow())));
        await timer.Time("webhooks", () => Done(webhooks.PublishAsync(key.TenantId, WebhookEventKinds.RegistrationCompleted, new
        {
            customer_item_id = key.CustomerItemId,
            registration_number = response.Registration.Number,
            superseded = response.Superseded,
            model_id = response.Registration.ModelId,
            model_version = response.Registration.ModelVersion,
            captured_at = response.Registration.CapturedAt,
            registered_at = response.Registration.RegisteredAt,
            capture_count = response.Registration.CaptureCount,
            custody_event_id = response.CustodyEvent?.EventId,
        }, cancellationToken)));
        return response;
    }

    /// <summary>1:1: do the captures show this item?</summary>
    /// <exception cref="CaptureRejectedException">A capture failed the quality gate.</exception>
    public async Task<CompareResponse> CompareAsync(ItemKey key, byte[][] images, IStageTimer? timer = null, CancellationToken cancellationToken = default)
    {
        timer ??= Untimed;
        var captures = await timer.Time("extract", () => ExtractAsync(images, FingerprintUse.Probe));
        var response = await timer.Time("match", () => registry.CompareAsync(key, captures, cancellationToken)) with { Captures = Qualities(captures) };
        await timer.Time("webhooks", () => Done(webhooks.PublishAsync(key.TenantId, WebhookEventKinds.ComparisonCompleted, new
        {
            customer_item_id = key.CustomerItemId,
            match = response.Match,
            score = response.Score,
            threshold = response.Threshold,
            registration_number = response.RegistrationNumber,
            model = response.Model,
        }, cancellationToken)));
        return response;
    }

    /// <summary>1:N within the tenant: which registered item do the captures show?</summary>
    /// <exception cref="CaptureRejectedException">A capture failed the quality gate.</exception>
    public async Task<TraceResponse> TraceAsync(string tenantId, byte[][] images, int top, IStageTimer? timer = null, CancellationToken cancellationToken = default)
    {
        timer ??= Untimed;
        var captures = await timer.Time("extract", () => ExtractAsync(images, FingerprintUse.Probe));
        var response = await timer.Time("search", () => registry.TraceAsync(tenantId, captures, top, cancellationToken));
        return response with { Captures = Qualities(captures) };
    }

    /// <summary>Appends a custody event (idempotent by its event id), then updates the directory and publishes it.</summary>
    public async Task<CustodyEvent> AddCustodyEventAsync(ItemKey key, CustodyEventRequest request, CancellationToken cancellationToken = default)
    {
        var recorded = await grains.GetItemGrain(key).AddCustodyEvent(request);
        await directory.RecordAsync(key, null, recorded.Sequence + 1, clock.GetUtcNow());
        await webhooks.PublishAsync(key.TenantId, WebhookEventKinds.CustodyEventAdded, new
        {
            customer_item_id = key.CustomerItemId,
            @event = recorded,
        }, cancellationToken);
        return recorded;
    }

    /// <summary>Links a temporary item to its permanent id; returns the permanent item's view.</summary>
    /// <exception cref="RegistryNotFoundException">The temporary item does not exist.</exception>
    public async Task<ItemView> LinkAsync(ItemKey temporary, ItemKey permanent, string? reason)
    {
        var item = grains.GetItemGrain(temporary);
        // Linking an id nothing was ever recorded under is almost certainly a typo.
        if (!(await item.GetItem()).Exists) throw new RegistryNotFoundException($"No item '{temporary.CustomerItemId}' exists in this tenant.");
        await item.LinkTo(permanent.CustomerItemId, reason);
        var now = clock.GetUtcNow();
        await directory.RecordAsync(permanent, null, null, now);
        await directory.RecordAsync(temporary, null, null, now);
        return await grains.GetItemGrain(permanent).GetItem();
    }

    /// <summary>Runs the quality gate and the model on every capture; all must pass.</summary>
    /// <exception cref="CaptureRejectedException">A capture failed the quality gate.</exception>
    public async Task<ExtractedFingerprint[]> ExtractAsync(byte[][] images, FingerprintUse use)
    {
        // A stateless worker: any key reaches the local pool.
        var results = await grains.GetGrain<IFingerprintExtractorGrain>(0).Extract(images, use);
        if (results.Length != images.Length)
            throw new InvalidOperationException($"The extractor answered {results.Length} results for {images.Length} images.");
        var rejected = results.Select((r, i) => (Result: r, Index: i)).Where(x => x.Result.Rejection is not null).ToArray();
        if (rejected.Length > 0)
        {
            throw new CaptureRejectedException([.. rejected.Select(x => new RejectedCapture(x.Index, x.Result.Rejection!, x.Result.Message ?? "",
                x.Result.Quality is { } q ? q with { Index = x.Index } : null))]);
        }
        var fingerprints = new ExtractedFingerprint[results.Length];
        for (var i = 0; i < results.Length; i++)
        {
            var r = results[i];
            if (r.Fingerprint is not { Length: > 0 } || r.GlobalVector is null || r.Quality is null)
                throw new InvalidOperationException($"The extractor accepted image {i} without a fingerprint, global vector and quality.");
            fingerprints[i] = new ExtractedFingerprint(r.Fingerprint, r.GlobalVector, r.Quality with { Index = i });
        }
        return fingerprints;
    }

    private static CaptureQuality[] Qualities(IEnumerable<ExtractedFingerprint> captures) => [.. captures.Select(c => c.Quality)];

    private static async Task<bool> Done(Task work)
    {
        await work;
        return true;
    }

    private sealed class NoTimer : IStageTimer
    {
        public Task<T> Time<T>(string name, Func<Task<T>> stage) => stage();
    }
}
