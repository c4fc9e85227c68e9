using System.Buffers.Binary;
using Entrupy.Grains;
using Entrupy.Grains.Persistence;

namespace Entrupy.Silo.Authentication;

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

/// <summary>Durable state of <see cref="AuthenticationJobsGrain"/>.</summary>
internal sealed class AuthenticationJobsState
{
    public List<AuthenticationJob> Jobs { get; set; } = [];
}

[GrainType("authjobs")]
internal sealed class AuthenticationJobsGrain([PersistentState("jobs")] IPersistentState<AuthenticationJobsState> state) : Grain, IAuthenticationJobsGrain
{
    public const string Key = "global";

    // In memory only: a restarted silo has no runner holding anything, so every job is free to take again.
    private readonly Dictionary<string, DateTimeOffset> leasedUntil = [];

    public async Task<bool> Add(AuthenticationJob job)
    {
        if (state.State.Jobs.Exists(j => j.Id == job.Id)) return false;
        state.State.Jobs.Add(job);
        await WriteAsync();
        return true;
    }

    public Task<bool> Contains(string jobId) => Task.FromResult(state.State.Jobs.Exists(j => j.Id == jobId));

    public Task<AuthenticationJob[]> LeaseDue(DateTimeOffset now, int max, TimeSpan leaseFor)
    {
        var due = state.State.Jobs
            .Where(j => j.NextAttemptAt <= now && (!leasedUntil.TryGetValue(j.Id, out var until) || until <= now))
            .OrderBy(j => j.NextAttemptAt)
            .ThenBy(j => j.CreatedAt)
            .Take(max)
            .ToArray();
        foreach (var j in due) leasedUntil[j.Id] = now + leaseFor;
        return Task.FromResult(due);
    }

    public async Task Reschedule(string jobId, DateTimeOffset nextAttemptAt, string error)
    {
        leasedUntil.Remove(jobId);
        var index = state.State.Jobs.FindIndex(j => j.Id == jobId);
        if (index < 0) return;
        var job = state.State.Jobs[index];
        state.State.Jobs[index] = job with { Attempts = job.Attempts + 1, NextAttemptAt = nextAttemptAt, LastError = error };
        await WriteAsync();
    }

    public async Task Remove(string jobId)
    {
        leasedUntil.Remove(jobId);
        if (state.State.Jobs.RemoveAll(j => j.Id == jobId) > 0) await WriteAsync();
    }

    public Task<AuthenticationJob[]> List() => Task.FromResult(state.State.Jobs.ToArray());

    private async Task WriteAsync()
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Memory now holds a change storage may not have: start again from what storage has.
            DeactivateOnIdle();
            throw;
        }
    }
}

/// <summary>
/// The captures of each job, one write-once record per job in the default grain store (grain type <c>authjob</c>),
/// in a compact binary framing rather than base64 JSON. Kept out of <see cref="IAuthenticationJobsGrain"/> so the job
/// list stays small however many captures are waiting.
/// </summary>
internal sealed class AuthenticationJobPayloads([FromKeyedServices(GrainStorageNames.Default)] IGrainStorage storage)
{
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

    private static GrainStateKey Key(string jobId) => new(GrainType, jobId, StateName);

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
