using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Entrupy.Fingerprinting;
using Orleans;
using Orleans.Concurrency;
using Entrupy.Registry.Api;
using Entrupy.Registry.Fingerprints;
using Microsoft.Extensions.Logging;

namespace Entrupy.Registry;

/// <summary>
/// <see cref="IItemRegistry"/> over the registry grains. Registration: fingerprint set (durable) → item lineage
/// (durable) → index shard. Compare: the current registration's fingerprint set scores the probes. Trace: every
/// shard of the tenant's index in parallel, merged by similarity, the nearest re-scored with the 1:1 matcher.
/// </summary>
internal sealed class ItemRegistry(IGrainFactory grains, FingerprintModel model, FingerprintMatcher matcher, RegistryOptions options, TimeProvider clock,
    ILogger<ItemRegistry> logger) : IItemRegistry
{
    /// <summary>Most probes one compare or trace may carry.</summary>
    internal const int MaxProbes = 16;

    private const int MaxRequestIdLength = 256;

    private string ModelName => model.Id + "@" + model.Version;

    /// <inheritdoc />
    public async Task<RegistrationResponse> RegisterAsync(ItemKey item, IReadOnlyList<ExtractedFingerprint> enrolments, RegistrationMetadata metadata,
        string requestId, CancellationToken cancellationToken = default)
    {
        CheckItem(item);
        ArgumentNullException.ThrowIfNull(enrolments);
        ArgumentNullException.ThrowIfNull(metadata);
        if (string.IsNullOrWhiteSpace(requestId) || requestId.Length > MaxRequestIdLength)
            throw new RegistryValidationException("request_id", requestId, $"request_id must be 1-{MaxRequestIdLength} characters, not blank");
        if (enrolments.Count is < 1 or > FingerprintSetGrain.MaxCaptures)
            throw new RegistryValidationException("images", enrolments.Count.ToString(CultureInfo.InvariantCulture), $"a registration needs 1-{FingerprintSetGrain.MaxCaptures} captures");
        // Checked whole, but only summarised: storing and indexing need the global vectors, not ~400 KB of descriptor
        // floats per capture (the set grain parses those when the item is first compared).
        var summaries = new FingerprintSummary[enrolments.Count];
        for (var i = 0; i < enrolments.Count; i++)
        {
            summaries[i] = Summarise(enrolments[i], i);
            if (summaries[i].Purpose != FingerprintPurpose.Enrolment)
                throw new RegistryValidationException("fingerprint", i.ToString(CultureInfo.InvariantCulture), "a registration needs enrolment fingerprints (extracted for enrolment, with the rotated descriptor sets)");
        }

        var custodyRequest = metadata.CustodyEvent is { } custodyEvent
            ? custodyEvent with { EventId = custodyEvent.EventId ?? CustodyEventIds.Derive(item, requestId) }
            : null;
        if (custodyRequest is not null) ItemGrain.ValidateCustodyEvent(custodyRequest);
        var setKey = FingerprintReferences.SetKey(item, requestId);
        var request = new RegistrationRequest
        {
            ModelId = model.Id,
            ModelVersion = model.Version,
            Quality = QualityFigures(enrolments),
            DeviceId = metadata.DeviceId,
            OperatorId = metadata.OperatorId,
            Location = metadata.Location,
            CapturedAt = metadata.CapturedAt ?? clock.GetUtcNow(),
            FingerprintReference = FingerprintReferences.Format(setKey),
            CaptureCount = enrolments.Count,
            Epc = metadata.Epc,
            SupersedeReason = metadata.SupersedeReason,
            RequestId = requestId,
        };
        // Refuse a bad request before anything is stored.
        ItemGrain.ValidateRegistration(request);
        cancellationToken.ThrowIfCancellationRequested();

        // 1. Fingerprints durable. A retry finds the set of the first attempt (same request id, same key) and keeps it.
        var set = grains.GetGrain<IFingerprintSetGrain>(setKey);
        var storedNow = await set.Store(new Immutable<byte[][]>([.. enrolments.Select(e => e.Fingerprint)]));
        var vectors = storedNow ? IndexVectors.Of([.. summaries.Select(f => f.SetGlobalVectors)]) : await set.GetIndexVectors();

        // 2. Lineage entry durable (the item answers a retry with the entry the first attempt made).
        var itemGrain = grains.GetItemGrain(item);
        FingerprintRegistration registration;
        try
        {
            registration = await itemGrain.Register(request);
        }
        catch (RegistryConflictException) when (storedNow)
        {
            // Refused outright (a linked item, another EPC): the item did not record the set this call stored, so
            // nothing ever will; ~100 KB per capture would stay behind. Not on other failures, whose outcome is unknown.
            await set.Discard();
            throw;
        }
        var custody = custodyRequest is null ? null : await itemGrain.AddCustodyEvent(custodyRequest);

        // 3. Index. Re-sent on every retry, in case the first attempt stopped before it; the shard ignores repeats.
        if (!registration.IsSuperseded)
        {
            await Shard(item.CustomerItemId).Upsert(new IndexEntry
            {
                TenantId = item.TenantId,
                CustomerItemId = item.CustomerItemId,
                RegistrationNumber = registration.Number,
                GlobalVector = vectors[0],
                AdditionalVectors = options.IndexSteeredViews ? vectors[1..] : [],
                FingerprintReference = registration.FingerprintReference,
            });
        }

        return new RegistrationResponse
        {
            CustomerItemId = item.CustomerItemId,
            Registration = registration with { Fingerprint = null },
            // Registering always supersedes the entry before it, which was current until then.
            Superseded = registration.Number > 1 ? registration.Number - 1 : null,
            CustodyEvent = custody,
        };
    }

    /// <inheritdoc />
    public async Task<CompareResponse> CompareAsync(ItemKey item, IReadOnlyList<ExtractedFingerprint> probes, CancellationToken cancellationToken = default)
    {
        CheckItem(item);
        var (probeBytes, _) = ParseProbes(probes);
        var current = await grains.GetItemGrain(item).GetCurrentRegistration()
                      ?? throw new RegistryNotFoundException($"Item '{item}' has no current registration to compare with.");
        cancellationToken.ThrowIfCancellationRequested();
        var score = await ScoreAsync(item, current.FingerprintReference, current, probeBytes);
        return new CompareResponse
        {
            CustomerItemId = item.CustomerItemId,
            Match = score >= model.OperatingThreshold,
            Score = score,
            Threshold = model.OperatingThreshold,
            RegistrationNumber = current.Number,
            Model = ModelName,
            Captures = [.. probes.Select(p => p.Quality)],
        };
    }

    /// <inheritdoc />
    public async Task<TraceResponse> TraceAsync(string tenantId, IReadOnlyList<ExtractedFingerprint> probes, int top, CancellationToken cancellationToken = default)
    {
        ItemKey.ValidateTenantId(tenantId);
        if (top < 1 || top > options.TraceMaxCandidates)
            throw new RegistryValidationException("top", top.ToString(CultureInfo.InvariantCulture), $"top must be 1-{options.TraceMaxCandidates}");
        var (probeBytes, parsed) = ParseProbes(probes);

        // Every shard, every probe vector, in parallel (Orleans runs each call on the grain's own scheduler, so issuing
        // them all before awaiting is enough). Each shard only searches this tenant's own FAISS index.
        var k = options.TraceMaxCandidates;
        var vectors = parsed.Select(p => p.GlobalVectorArray()).ToArray(); // once per probe, shared by every shard (read-only)
        var searches = new List<Task<IndexHit[]>>();
        for (var shard = 0; shard < options.ShardCount; shard++)
        {
            var shardGrain = grains.GetGrain<IIndexShardGrain>(shard);
            foreach (var vector in vectors)
                searches.Add(shardGrain.Search(tenantId, vector, k));
        }
        var nearest = new Dictionary<string, IndexHit>(StringComparer.Ordinal);
        foreach (var hit in (await Task.WhenAll(searches)).SelectMany(h => h))
        {
            if (!nearest.TryGetValue(hit.CustomerItemId, out var seen) || hit.Similarity > seen.Similarity) nearest[hit.CustomerItemId] = hit;
        }
        var ranked = nearest.Values.OrderByDescending(h => h.Similarity).ThenBy(h => h.CustomerItemId, StringComparer.Ordinal).Take(k).ToList();

        // Re-score the nearest with the 1:1 matcher; widen (doubling) only while nothing matches, up to k.
        var scored = new List<(IndexHit Hit, int Rank, int Score)>();
        for (int done = 0, end = Math.Min(options.TraceShortlist, ranked.Count); done < ranked.Count; done = end, end = Math.Min(ranked.Count, end * 2))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var first = done;
            var batch = ranked.Skip(first).Take(end - first).Select((hit, i) => (Hit: hit, Rank: first + i)).ToList();
            var scores = await Task.WhenAll(batch.Select(c => CandidateScoreAsync(tenantId, c.Hit, probeBytes)));
            scored.AddRange(batch.Select((c, i) => (c.Hit, c.Rank, scores[i])).Where(c => c.Item3 >= 0));
            if (scores.Any(s => s >= model.OperatingThreshold)) break;
        }

        var best = scored.OrderByDescending(c => c.Score).ThenBy(c => c.Rank).Take(top).ToList();
        var lastEvents = await Task.WhenAll(best.Select(c => grains.GetItemGrain(tenantId, c.Hit.CustomerItemId).GetLastCustodyEvent()));
        var candidates = best.Select((c, i) => new TraceMatch
        {
            CustomerItemId = c.Hit.CustomerItemId,
            Score = c.Score,
            Match = c.Score >= model.OperatingThreshold,
            LastCustodyEvent = lastEvents[i],
        }).ToArray();
        return new TraceResponse
        {
            Match = candidates.FirstOrDefault(c => c.Match),
            Candidates = candidates,
            Threshold = model.OperatingThreshold,
            Model = ModelName,
            Captures = [.. probes.Select(p => p.Quality)],
        };
    }

    /// <inheritdoc />
    public Task RemoveFromIndexAsync(ItemKey item, CancellationToken cancellationToken = default)
    {
        CheckItem(item);
        return Shard(item.CustomerItemId).Remove(item.TenantId, item.CustomerItemId);
    }

    /// <summary>A candidate's score, or -1 when its stored fingerprints cannot be compared (logged, left out of the answer).</summary>
    private async Task<int> CandidateScoreAsync(string tenantId, IndexHit hit, byte[][] probes)
    {
        try
        {
            return await ScoreAsync(ItemKey.Create(tenantId, hit.CustomerItemId), hit.FingerprintReference, null, probes);
        }
        catch (Exception ex) when (ex is RegistryNotFoundException or RegistryConflictException)
        {
            // One item's damaged or missing record must not make every trace of the tenant fail.
            logger.LogWarning(ex, "Trace: candidate {Tenant}/{Item} (registration {Registration}) skipped", tenantId, hit.CustomerItemId, hit.RegistrationNumber);
            return -1;
        }
    }

    /// <summary>
    /// Best score of the probes against a registration: through its fingerprint set grain (cached there), or, for an
    /// entry registered with inline bytes (<see cref="IItemGrain.Register"/> called directly), here.
    /// </summary>
    private async Task<int> ScoreAsync(ItemKey item, string? reference, FingerprintRegistration? registration, byte[][] probes)
    {
        if (FingerprintReferences.TryGetSetKey(reference) is { } setKey)
            return (await grains.GetGrain<IFingerprintSetGrain>(setKey).Compare(new Immutable<byte[][]>(probes))).Score;

        registration ??= await grains.GetItemGrain(item).GetCurrentRegistration();
        if (registration?.Fingerprint is not { Length: > 0 } inline)
            throw new RegistryConflictException($"The current registration of item '{item}' has no fingerprint this registry can read (reference '{registration?.FingerprintReference}').");
        Fingerprint enrolled;
        try
        {
            enrolled = Fingerprint.FromBytes(inline, model);
        }
        catch (InvalidDataException ex)
        {
            throw new RegistryConflictException($"The current registration of item '{item}' cannot be compared: {ex.Message}");
        }
        return probes.Max(p => matcher.Compare(Fingerprint.FromBytes(p, model), enrolled).Score);
    }

    private (byte[][] Bytes, Fingerprint[] Parsed) ParseProbes(IReadOnlyList<ExtractedFingerprint> probes)
    {
        ArgumentNullException.ThrowIfNull(probes);
        if (probes.Count is < 1 or > MaxProbes)
            throw new RegistryValidationException("images", probes.Count.ToString(CultureInfo.InvariantCulture), $"1-{MaxProbes} probe captures are needed");
        // Parsed here to refuse a bad probe before any grain call; the set grains parse the bytes they are sent.
        var parsed = probes.Select(Parse).ToArray();
        var bytes = probes.Select(p => p.Fingerprint).ToArray();
        return (bytes, parsed);
    }

    private Fingerprint Parse(ExtractedFingerprint extracted, int index) =>
        ReadChecked(extracted, index, static (bytes, model) => Fingerprint.FromBytes(bytes, model));

    private FingerprintSummary Summarise(ExtractedFingerprint extracted, int index) =>
        ReadChecked(extracted, index, (bytes, model) => Fingerprint.ReadSummary(bytes, model, steeredViews: options.IndexSteeredViews));

    private T ReadChecked<T>(ExtractedFingerprint extracted, int index, Func<byte[], FingerprintModel, T> read)
    {
        if (extracted?.Fingerprint is not { Length: > 0 } bytes)
            throw new RegistryValidationException("fingerprint", index.ToString(CultureInfo.InvariantCulture), "every capture needs its serialized fingerprint");
        try
        {
            return read(bytes, model);
        }
        catch (InvalidDataException ex)
        {
            throw new RegistryValidationException("fingerprint", index.ToString(CultureInfo.InvariantCulture), ex.Message.TrimEnd('.'));
        }
    }

    private IIndexShardGrain Shard(string customerItemId) =>
        grains.GetGrain<IIndexShardGrain>(IndexSharding.ShardOf(customerItemId, options.ShardCount));

    private static void CheckItem(ItemKey item)
    {
        // default(ItemKey) skipped validation; every other instance was validated when built.
        if (item.TenantId is null || item.CustomerItemId is null)
            throw new InvalidIdentifierException("item_key", null, "an item key must be built with ItemKey.Create or ItemKey.Parse");
    }

    /// <summary>Quality figures of the registration: the weakest capture's focus and contrast, the most clipping, the mean brightness.</summary>
    private static Dictionary<string, double> QualityFigures(IReadOnlyList<ExtractedFingerprint> enrolments)
    {
        var qualities = enrolments.Select(e => e.Quality).Where(q => q is not null).ToList();
        if (qualities.Count == 0) return [];
        return new Dictionary<string, double>
        {
            ["focus"] = qualities.Min(q => q.Focus),
            ["contrast"] = qualities.Min(q => q.Contrast),
            ["clipped"] = qualities.Max(q => q.Clipped),
            ["mean"] = qualities.Average(q => q.Mean),
        };
    }
}
