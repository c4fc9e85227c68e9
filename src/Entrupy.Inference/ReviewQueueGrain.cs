using Orleans;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;
using Entrupy.Registry;

namespace Entrupy.Inference;

/// <summary>An authentication waiting for an expert, as it was when it entered the queue.</summary>
/// <param name="Sequence">Position in the tenant's queue (increasing, never reused): the paging cursor.</param>
/// <param name="CustomerItemId">The item.</param>
/// <param name="Authentication">The needs_review result.</param>
/// <param name="EnqueuedAt">When it entered the queue.</param>
internal sealed record ReviewQueueItem(long Sequence, string CustomerItemId, AuthenticationResult Authentication, DateTimeOffset EnqueuedAt);

/// <summary>A page of the queue.</summary>
/// <param name="Entries">Entries after the cursor, oldest first.</param>
/// <param name="NextAfter">Sequence to continue after, or null when this page reaches the end.</param>
internal sealed record ReviewQueueSlice(ReviewQueueItem[] Entries, long? NextAfter);

/// <summary>
/// One tenant's review queue (keyed by tenant id). Every change of an authentication into or out of needs_review goes
/// through this grain, which is turn-based, so a verdict and the queue can never disagree because of a race: two
/// reviewers of the same authentication are serialised and the second gets a conflict.
/// </summary>
internal interface IReviewQueueGrain : IGrainWithStringKey
{
    /// <summary>
    /// Sets a pending authentication to needs_review with the model's scores (when <paramref name="update"/> is given and it
    /// is still pending), then makes sure an authentication that is needs_review is queued. Idempotent.
    /// </summary>
    /// <exception cref="RegistryNotFoundException">The item has no such authentication.</exception>
    Task<AuthenticationResult> MarkForReview(string customerItemId, string authenticationId, AuthenticationUpdate? update);

    /// <summary>
    /// Records an expert's final verdict on a needs_review authentication and removes it from the queue. The very same
    /// verdict (reviewer, status, note) again is answered with the stored result, so a retry is safe.
    /// </summary>
    /// <exception cref="RegistryNotFoundException">The item has no such authentication.</exception>
    /// <exception cref="RegistryConflictException">The authentication is not waiting for review.</exception>
    Task<AuthenticationResult> Review(string customerItemId, string authenticationId, AuthenticationUpdate verdict);

    /// <summary>Up to <paramref name="limit"/> entries with a sequence above <paramref name="afterSequence"/>, oldest first.</summary>
    Task<ReviewQueueSlice> List(long afterSequence, int limit);
}

/// <summary>Durable state of <see cref="ReviewQueueGrain"/>.</summary>
internal sealed class ReviewQueueState
{
    public long LastSequence { get; set; }
    public List<ReviewQueueItem> Entries { get; set; } = [];
}

[GrainType("reviewqueue")]
internal sealed class ReviewQueueGrain([PersistentState("reviews")] IPersistentState<ReviewQueueState> state, TimeProvider clock)
    : Grain, IReviewQueueGrain
{
    private string TenantId => this.GetPrimaryKeyString();

    public async Task<AuthenticationResult> MarkForReview(string customerItemId, string authenticationId, AuthenticationUpdate? update)
    {
        var item = GrainFactory.GetItemGrain(TenantId, customerItemId);
        var current = await FindAsync(item, customerItemId, authenticationId);
        if (update is not null && current.Status == AuthenticationStatus.Pending)
            current = await item.UpdateAuthentication(authenticationId, update with { Status = AuthenticationStatus.NeedsReview });
        if (current.Status == AuthenticationStatus.NeedsReview && IndexOf(customerItemId, authenticationId) < 0)
        {
            state.State.Entries.Add(new ReviewQueueItem(state.State.LastSequence + 1, customerItemId, current, clock.GetUtcNow()));
            state.State.LastSequence++;
            await WriteAsync();
        }
        return current;
    }

    public async Task<AuthenticationResult> Review(string customerItemId, string authenticationId, AuthenticationUpdate verdict)
    {
        var item = GrainFactory.GetItemGrain(TenantId, customerItemId);
        var current = await FindAsync(item, customerItemId, authenticationId);
        if (current.Status != AuthenticationStatus.NeedsReview && IsSameVerdict(current.ReviewerVerdict, verdict))
        {
            // A retry of the review that was recorded (e.g. its webhook could not be queued): answer it again.
            await DropEntryAsync(customerItemId, authenticationId);
            return current;
        }
        if (current.Status != AuthenticationStatus.NeedsReview)
        {
            // An entry left behind by a stop between the item's write and ours is dropped here, so the queue heals.
            await DropEntryAsync(customerItemId, authenticationId);
            var situation = current.Status == AuthenticationStatus.Pending ? "still pending (the model has not judged it yet)" : $"already {Wire(current.Status)}";
            throw new RegistryConflictException($"Authentication '{authenticationId}' of item '{customerItemId}' is not waiting for review: it is {situation}.");
        }

        var result = await item.UpdateAuthentication(authenticationId, verdict);
        await DropEntryAsync(customerItemId, authenticationId);
        return result;
    }

    public Task<ReviewQueueSlice> List(long afterSequence, int limit)
    {
        // Entries are appended with increasing sequences, so the list is already oldest first.
        var after = state.State.Entries.Where(e => e.Sequence > afterSequence).Take(limit + 1).ToArray();
        var page = after.Take(limit).ToArray();
        return Task.FromResult(new ReviewQueueSlice(page, after.Length > limit ? page[^1].Sequence : null));
    }

    private async Task DropEntryAsync(string customerItemId, string authenticationId)
    {
        if (IndexOf(customerItemId, authenticationId) is not (var index and >= 0)) return;
        state.State.Entries.RemoveAt(index);
        await WriteAsync();
    }

    private static bool IsSameVerdict(ReviewerVerdict? recorded, AuthenticationUpdate verdict) =>
        recorded is not null && recorded.Reviewer == verdict.Reviewer && recorded.Status == verdict.Status && recorded.Note == verdict.Note;

    private int IndexOf(string customerItemId, string authenticationId) =>
        state.State.Entries.FindIndex(e => e.CustomerItemId == customerItemId && e.Authentication.AuthenticationId == authenticationId);

    private static async Task<AuthenticationResult> FindAsync(IItemGrain item, string customerItemId, string authenticationId) =>
        (await item.GetItem()).Authentications.FirstOrDefault(a => a.AuthenticationId == authenticationId)
        ?? throw new RegistryNotFoundException($"Item '{customerItemId}' has no authentication '{authenticationId}'.");

    internal static string Wire(AuthenticationStatus status) => status switch
    {
        AuthenticationStatus.Pending => "pending",
        AuthenticationStatus.Authentic => "authentic",
        AuthenticationStatus.NotAuthentic => "not_authentic",
        AuthenticationStatus.NeedsReview => "needs_review",
        _ => status.ToString(),
    };

    private async Task WriteAsync()
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            DeactivateOnIdle();
            throw;
        }
    }
}
