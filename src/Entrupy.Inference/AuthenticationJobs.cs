using System.Buffers.Binary;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Inference;

/// <summary>
/// One authentication waiting to be run through its model. The captures are not in here (see
/// <see cref="AuthenticationJobPayloads"/>): this record stays small so the job list can be rewritten cheaply.
/// </summary>
/// <param name="Id">The job id, <c>{tenant}/{customer_item_id}/{authentication_id}</c>.</param>
/// <param name="TenantId">Owning tenant.</param>
/// <param name="CustomerItemId">The item.</param>
/// <param name="AuthenticationId">The pending authentication on the item.</param>
/// <param name="Model">Authentication model id.</param>
/// <param name="ImageCount">Captures submitted.</param>
/// <param name="CreatedAt">When it was submitted.</param>
/// <param name="Attempts">Failed attempts so far.</param>
/// <param name="NextAttemptAt">When it may run next.</param>
/// <param name="LastError">Why the last attempt failed, if it did.</param>
internal sealed record AuthenticationJob(string Id, string TenantId, string CustomerItemId, string AuthenticationId, string Model,
    int ImageCount, DateTimeOffset CreatedAt, int Attempts, DateTimeOffset NextAttemptAt, string? LastError)
{
    public static string MakeId(string tenantId, string customerItemId, string authenticationId) =>
        tenantId + "/" + customerItemId + "/" + authenticationId;
}

/// <summary>
/// The durable list of authentication jobs not yet finished, for the whole cluster (key <see cref="AuthenticationJobsGrain.Key"/>).
/// A job is added after its captures are durable and removed only after its result is durable and its webhook queued,
/// so a silo that stops mid-way resumes it on start. Leases keep two runners from running the same job at once.
/// </summary>
internal interface IAuthenticationJobsGrain : IGrainWithStringKey
{
    /// <summary>Adds a job; a job with the same id already present is kept as it is. True when added.</summary>
    Task<bool> Add(AuthenticationJob job);

    /// <summary>Whether a job with this id is waiting.</summary>
    Task<bool> Contains(string jobId);

    /// <summary>Up to <paramref name="max"/> due jobs not leased by someone else, oldest first; leases them.</summary>
    Task<AuthenticationJob[]> LeaseDue(DateTimeOffset now, int max, TimeSpan leaseFor);

    /// <summary>Counts a failed attempt and releases the lease until <paramref name="nextAttemptAt"/>.</summary>
    Task Reschedule(string jobId, DateTimeOffset nextAttemptAt, string error);

    /// <summary>Removes a finished job.</summary>
    Task Remove(string jobId);

    /// <summary>Every waiting job (diagnostics and tests).</summary>
    Task<AuthenticationJob[]> List();
}

/// <summary>Snapshot of <see cref="AuthenticationJobsGrain"/>: the waiting jobs, and how much of the journal it includes.</summary>
internal sealed class AuthenticationJobsState : IJournaledSnapshot
{
    public List<AuthenticationJob> Jobs { get; set; } = [];

    /// <inheritdoc />
    public long Sequence { get; set; }
}

/// <summary>One change to the job list as its journal records it: a job added, one rescheduled (an attempt more), or one removed.</summary>
internal sealed record AuthenticationJobChange(AuthenticationJob? Added = null, string? Rescheduled = null, DateTimeOffset? NextAttemptAt = null,
    string? Error = null, string? Removed = null);

/// <summary>
/// The list of waiting authentication jobs, kept as a snapshot plus a journal of changes
/// (<see cref="JournaledState{TState,TChange}"/>): a backlog (a slow or failing model) no longer makes every add,
/// retry and removal rewrite the whole list.
/// </summary>
[GrainType("authjobs")]
internal sealed class AuthenticationJobsGrain([PersistentState("jobs")] IPersistentState<AuthenticationJobsState> state, ILogger<AuthenticationJobsGrain> logger)
    : Grain, IAuthenticationJobsGrain
{
    public const string Key = "global";

    /// <summary>Grain type of the journal records in the grain storage.</summary>
    internal const string JournalGrainType = "authjobsjournal";

    private readonly DueLeases<AuthenticationJob> leases = new(j => j.Id, j => j.NextAttemptAt, j => j.CreatedAt);
    private JournaledState<AuthenticationJobsState, AuthenticationJobChange> journal = null!;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        journal = new(state, ServiceProvider.GetRecordStore(), JournalGrainType,
            this.GetPrimaryKeyString(), Apply, DeactivateOnIdle, logger);
        return journal.ActivateAsync(cancellationToken);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => journal.DeactivateAsync();

    public async Task<bool> Add(AuthenticationJob job)
    {
        if (state.State.Jobs.Exists(j => j.Id == job.Id)) return false;
        await journal.ChangeAsync(new AuthenticationJobChange(Added: job));
        return true;
    }

    public Task<bool> Contains(string jobId) => Task.FromResult(state.State.Jobs.Exists(j => j.Id == jobId));

    public Task<AuthenticationJob[]> LeaseDue(DateTimeOffset now, int max, TimeSpan leaseFor) =>
        Task.FromResult(leases.LeaseDue(state.State.Jobs, now, max, leaseFor));

    public Task Reschedule(string jobId, DateTimeOffset nextAttemptAt, string error)
    {
        leases.Release(jobId);
        return state.State.Jobs.Exists(j => j.Id == jobId)
            ? journal.ChangeAsync(new AuthenticationJobChange(Rescheduled: jobId, NextAttemptAt: nextAttemptAt, Error: error))
            : Task.CompletedTask;
    }

    public Task Remove(string jobId)
    {
        leases.Release(jobId);
        return state.State.Jobs.Exists(j => j.Id == jobId) ? journal.ChangeAsync(new AuthenticationJobChange(Removed: jobId)) : Task.CompletedTask;
    }

    public Task<AuthenticationJob[]> List() => Task.FromResult(state.State.Jobs.ToArray());

    private void Apply(AuthenticationJobChange change)
    {
        var jobs = state.State.Jobs;
        if (change.Added is { } added && !jobs.Exists(j => j.Id == added.Id)) jobs.Add(added);
        if (change.Rescheduled is { } id && change.NextAttemptAt is { } at)
        {
            var index = jobs.FindIndex(j => j.Id == id);
            if (index >= 0) jobs[index] = jobs[index] with { Attempts = jobs[index].Attempts + 1, NextAttemptAt = at, LastError = change.Error };
        }
        if (change.Removed is { } removed) jobs.RemoveAll(j => j.Id == removed);
    }
}

/// <summary>
/// The captures of each job, one write-once record per job in the default grain store (grain type <c>authjob</c>),
/// in a compact binary framing rather than base64 JSON. Kept out of <see cref="IAuthenticationJobsGrain"/> so the job
/// list stays small however many captures are waiting.
/// </summary>
internal sealed class AuthenticationJobPayloads([FromKeyedServices(StorageNames.Default)] IGrainStorage provider)
{
    private readonly RecordStore storage = new(provider);
    private const string GrainType = "authjob";
    private const string StateName = "captures";
    private static readonly byte[] Magic = "EAJ1"u8.ToArray();

    /// <summary>Stores the captures of a job (replacing any left by an earlier, interrupted submission).</summary>
    public async Task WriteAsync(string jobId, IReadOnlyList<byte[]> images, CancellationToken cancellationToken)
    {
        var key = Key(jobId);
        var existing = await storage.ReadAsync(key, cancellationToken);
        await storage.WriteAsync(key, Encode(images), existing?.ETag, cancellationToken);
    }

    /// <summary>The captures of a job, or null when none are stored.</summary>
    public async Task<byte[][]?> ReadAsync(string jobId, CancellationToken cancellationToken)
    {
        var record = await storage.ReadAsync(Key(jobId), cancellationToken);
        return record is null ? null : Decode(record.Data.Span, jobId);
    }

    /// <summary>Deletes the captures of a finished job (a missing record is fine).</summary>
    public async Task DeleteAsync(string jobId, CancellationToken cancellationToken)
    {
        var key = Key(jobId);
        var existing = await storage.ReadAsync(key, cancellationToken);
        if (existing is not null) await storage.ClearAsync(key, existing.ETag, cancellationToken);
    }

    private static RecordKey Key(string jobId) => new(GrainType, jobId, StateName);

    internal static byte[] Encode(IReadOnlyList<byte[]> images)
    {
        var size = Magic.Length + 4 + images.Sum(i => 4 + i.Length);
        var buffer = new byte[size];
        Magic.CopyTo(buffer, 0);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(4), images.Count);
        var offset = 8;
        foreach (var image in images)
        {
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(offset), image.Length);
            image.CopyTo(buffer, offset + 4);
            offset += 4 + image.Length;
        }
        return buffer;
    }

    internal static byte[][] Decode(ReadOnlySpan<byte> data, string jobId)
    {
        if (data.Length < 8 || !data[..4].SequenceEqual(Magic)) throw new GrainStorageException($"Stored captures of authentication job {jobId} are not in the expected format.");
        var count = BinaryPrimitives.ReadInt32LittleEndian(data[4..]);
        var images = new byte[count][];
        var offset = 8;
        for (var i = 0; i < count; i++)
        {
            if (offset + 4 > data.Length) throw new GrainStorageException($"Stored captures of authentication job {jobId} are truncated.");
            var length = BinaryPrimitives.ReadInt32LittleEndian(data[offset..]);
            if (length < 0 || offset + 4 + length > data.Length) throw new GrainStorageException($"Stored captures of authentication job {jobId} are truncated.");
            images[i] = data.Slice(offset + 4, length).ToArray();
            offset += 4 + length;
        }
        return images;
    }
}
