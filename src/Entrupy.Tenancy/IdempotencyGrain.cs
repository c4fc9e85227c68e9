using Orleans;
using Orleans.Runtime;

namespace Entrupy.Tenancy;

/// <summary>A response kept for replay.</summary>
internal sealed record StoredResponse(int Status, string? ContentType, string? Location, byte[] Body);

/// <summary>What to do with a request carrying an Idempotency-Key.</summary>
internal enum IdempotencyOutcome
{
    /// <summary>First time: run it, then call Complete (or Abandon).</summary>
    Execute,
    /// <summary>Done before with the same request: send <see cref="IdempotencyDecision.Response"/>.</summary>
    Replay,
    /// <summary>The key was used with a different request.</summary>
    Mismatch,
    /// <summary>The same request is running right now.</summary>
    InProgress,
}

/// <summary>The grain's answer to Begin.</summary>
internal sealed record IdempotencyDecision(IdempotencyOutcome Outcome, StoredResponse? Response);

/// <summary>One idempotency key of one tenant. Turn-based, so two concurrent Begin calls cannot both get Execute.</summary>
internal interface IIdempotencyGrain : IGrainWithStringKey
{
    Task<IdempotencyDecision> Begin(string requestHash, DateTimeOffset now, TimeSpan inProgressTimeout);
    Task Complete(string requestHash, StoredResponse response, DateTimeOffset expiresAt);
    Task Abandon(string requestHash);
}

/// <summary>Durable state of <see cref="IdempotencyGrain"/>: only completed requests are written.</summary>
internal sealed class IdempotencyState
{
    public string? RequestHash { get; set; }
    public StoredResponse? Response { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
}

[GrainType("idempotency")]
[CollectionAgeLimit("00:05:00")]
internal sealed class IdempotencyGrain([PersistentState("idempotency")] IPersistentState<IdempotencyState> state) : Grain, IIdempotencyGrain
{
    // In memory only: with one activation per key cluster-wide this is enough, and a crash frees the key (retry re-executes).
    private (string Hash, DateTimeOffset Since)? running;

    public async Task<IdempotencyDecision> Begin(string requestHash, DateTimeOffset now, TimeSpan inProgressTimeout)
    {
        if (state.State.Response is not null)
        {
            if (state.State.ExpiresAt > now)
                return state.State.RequestHash == requestHash
                    ? new(IdempotencyOutcome.Replay, state.State.Response)
                    : new(IdempotencyOutcome.Mismatch, null);
            await state.ClearStateAsync();
        }
        if (running is { } r && now - r.Since < inProgressTimeout)
            return new(r.Hash == requestHash ? IdempotencyOutcome.InProgress : IdempotencyOutcome.Mismatch, null);
        running = (requestHash, now);
        return new(IdempotencyOutcome.Execute, null);
    }

    public async Task Complete(string requestHash, StoredResponse response, DateTimeOffset expiresAt)
    {
        running = null;
        state.State.RequestHash = requestHash;
        state.State.Response = response;
        state.State.ExpiresAt = expiresAt;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Not kept: a retry runs the request again rather than replaying an answer storage never had.
            state.State.RequestHash = null;
            state.State.Response = null;
            throw;
        }
    }

    public Task Abandon(string requestHash)
    {
        if (running?.Hash == requestHash) running = null;
        return Task.CompletedTask;
    }
}
