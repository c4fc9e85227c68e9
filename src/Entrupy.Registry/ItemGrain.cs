using Orleans;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Registry;

/// <summary>
/// The item grain: fingerprint lineage, hash-chained custody events, authentication results and links of one item.
/// State lives in the default storage provider under state name "item". The custody chain is verified when the state
/// is read (activation); a chain that does not verify fails the activation, and with it every call, with
/// <see cref="CustodyChainTamperedException"/>.
/// </summary>
[GrainType("item")]
public sealed class ItemGrain([PersistentState("item")] IPersistentState<ItemState> state) : Grain, IItemGrain
{
    internal const string AuthenticationIdRule =
        "authentication_id must be 1-128 characters from [A-Za-z0-9._:-] and must not start with '.'";

    private const int MaxTextLength = 256;
    private const int MaxListCount = 1000;

    private ItemKey key;
    private RegistryOptions options = RegistryOptions.Default;
    private TimeProvider clock = TimeProvider.System;

    private ItemState Item => state.State;

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        key = ItemKey.Parse(this.GetPrimaryKeyString());
        options = ServiceProvider.GetService(typeof(RegistryOptions)) as RegistryOptions ?? RegistryOptions.Default;
        clock = ServiceProvider.GetService(typeof(TimeProvider)) as TimeProvider ?? TimeProvider.System;
        CustodyChain.Verify(key.ToString(), Item.CustodyEvents);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<FingerprintRegistration> Register(RegistrationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ValidateRegistration(request);
        // A retry is answered from the lineage before anything else, so it gets the first answer even if the item
        // was linked or re-registered since.
        if (request.RequestId is not null && Item.Registrations.Find(r => r.RequestId == request.RequestId) is { } done) return done;
        ThrowIfLinked();
        if (request.Epc is not null && Item.Epc is not null && Item.Epc != request.Epc)
            throw new RegistryConflictException($"Item '{key}' already has EPC '{Item.Epc}'; it cannot change to '{request.Epc}'.");

        var now = clock.GetUtcNow();
        var number = Item.Registrations.Count + 1;
        var current = Item.Registrations.FindLastIndex(r => !r.IsSuperseded);
        if (current >= 0)
        {
            Item.Registrations[current] = Item.Registrations[current] with
            {
                SupersededAt = now,
                SupersededReason = request.SupersedeReason ?? "re-registered",
                SupersededBy = number,
            };
        }

        var registration = new FingerprintRegistration
        {
            Number = number,
            ModelId = request.ModelId,
            ModelVersion = request.ModelVersion,
            Quality = new Dictionary<string, double>(request.Quality),
            DeviceId = request.DeviceId,
            OperatorId = request.OperatorId,
            Location = request.Location,
            CapturedAt = request.CapturedAt,
            RegisteredAt = now,
            Fingerprint = request.Fingerprint is null ? null : (byte[])request.Fingerprint.Clone(),
            FingerprintReference = request.FingerprintReference,
            CaptureCount = request.CaptureCount,
            RequestId = request.RequestId,
        };
        Item.Registrations.Add(registration);
        Item.Epc ??= request.Epc;
        await PersistAsync();
        return registration;
    }

    /// <inheritdoc />
    public Task<ItemView> GetItem() => Task.FromResult(BuildView());

    /// <inheritdoc />
    public Task<FingerprintRegistration?> GetCurrentRegistration() => Task.FromResult(Item.Registrations.FindLast(r => !r.IsSuperseded));

    /// <inheritdoc />
    public Task<CustodyEvent?> GetLastCustodyEvent() => Task.FromResult(Item.CustodyEvents.Count == 0 ? null : Item.CustodyEvents[^1]);

    /// <inheritdoc />
    public async Task<CustodyEvent> AddCustodyEvent(CustodyEventRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ThrowIfLinked();
        var (bizStep, disposition) = ValidateCustodyEvent(request);

        if (request.EventId is not null && Item.CustodyEvents.Find(e => e.EventId == request.EventId) is { } existing)
        {
            // A retry of the same event is answered from the chain; a different event under a used id is an error.
            var same = existing.Action == request.Action && existing.BizStep == bizStep && existing.Disposition == disposition
                && existing.ReadPointId == request.ReadPointId && existing.BizLocationId == request.BizLocationId
                && existing.EventTime == request.EventTime && existing.EventTime.Offset == request.EventTime.Offset;
            return same ? existing
                : throw new RegistryConflictException($"Item '{key}' already has a different event with eventID '{request.EventId}'.");
        }

        var previous = Item.CustodyEvents.Count == 0 ? CustodyChain.GenesisHash : Item.CustodyEvents[^1].Hash;
        var custodyEvent = new CustodyEvent
        {
            Sequence = Item.CustodyEvents.Count,
            EventId = request.EventId ?? "urn:uuid:" + Guid.NewGuid().ToString("D"),
            Action = request.Action,
            BizStep = bizStep,
            Disposition = disposition,
            ReadPointId = request.ReadPointId,
            BizLocationId = request.BizLocationId,
            EventTime = request.EventTime,
            EventTimeZoneOffset = CustodyChain.FormatOffset(request.EventTime.Offset),
            RecordTime = clock.GetUtcNow(),
            PreviousHash = previous,
        };
        custodyEvent = custodyEvent with { Hash = CustodyChain.ComputeHash(key.ToString(), custodyEvent) };
        Item.CustodyEvents.Add(custodyEvent);
        await PersistAsync();
        return custodyEvent;
    }

    /// <inheritdoc />
    public Task<CustodyEvent[]> ListCustodyEvents(int fromSequence, int maxCount)
    {
        if (fromSequence < 0)
            throw new RegistryValidationException("from_sequence", fromSequence.ToString(System.Globalization.CultureInfo.InvariantCulture), "from_sequence must be 0 or more");
        if (maxCount is < 1 or > MaxListCount)
            throw new RegistryValidationException("max_count", maxCount.ToString(System.Globalization.CultureInfo.InvariantCulture), $"max_count must be 1-{MaxListCount}");
        var events = Item.CustodyEvents;
        var start = Math.Min(fromSequence, events.Count);
        return Task.FromResult(events.GetRange(start, Math.Min(maxCount, events.Count - start)).ToArray());
    }

    /// <inheritdoc />
    public async Task<AuthenticationResult> RecordAuthentication(AuthenticationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ThrowIfLinked();
        if (request.AuthenticationId is not null && !ItemKey.IsValidCustomerItemId(request.AuthenticationId))
            throw new RegistryValidationException("authentication_id", request.AuthenticationId, AuthenticationIdRule);
        if (!Enum.IsDefined(request.Status))
            throw new RegistryValidationException("status", request.Status.ToString(), "status must be pending, authentic, not_authentic or needs_review");
        RequireText("model_id", request.ModelId, required: true);
        RequireText("model_version", request.ModelVersion);
        RequireFinite("scores", request.Scores);
        if (request.AuthenticationId is not null && Item.Authentications.Find(a => a.AuthenticationId == request.AuthenticationId) is { } existing)
        {
            return existing;
        }

        var now = clock.GetUtcNow();
        var result = new AuthenticationResult
        {
            AuthenticationId = request.AuthenticationId ?? Guid.NewGuid().ToString("N"),
            Status = request.Status,
            ModelId = request.ModelId,
            ModelVersion = request.ModelVersion,
            Scores = new Dictionary<string, double>(request.Scores),
            RecordedAt = now,
            UpdatedAt = now,
        };
        Item.Authentications.Add(result);
        await PersistAsync();
        return result;
    }

    /// <inheritdoc />
    public async Task<AuthenticationResult> UpdateAuthentication(string authenticationId, AuthenticationUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (!Enum.IsDefined(update.Status))
            throw new RegistryValidationException("status", update.Status.ToString(), "status must be pending, authentic, not_authentic or needs_review");
        RequireText("reviewer", update.Reviewer);
        RequireText("note", update.Note, maxLength: 2048);
        RequireFinite("scores", update.Scores);
        var index = Item.Authentications.FindIndex(a => a.AuthenticationId == authenticationId);
        if (index < 0) throw new RegistryNotFoundException($"Item '{key}' has no authentication '{authenticationId}'.");

        var now = clock.GetUtcNow();
        var old = Item.Authentications[index];
        var scores = new Dictionary<string, double>(old.Scores);
        foreach (var (name, value) in update.Scores) scores[name] = value;
        var updated = old with
        {
            Status = update.Status,
            Scores = scores,
            ReviewerVerdict = update.Reviewer is null ? old.ReviewerVerdict
                : new ReviewerVerdict { Reviewer = update.Reviewer, Status = update.Status, Note = update.Note, At = now },
            UpdatedAt = now,
        };
        Item.Authentications[index] = updated;
        await PersistAsync();
        return updated;
    }

    /// <inheritdoc />
    public async Task<ItemView> LinkTo(string permanentCustomerItemId, string? reason)
    {
        ItemKey.ValidateCustomerItemId(permanentCustomerItemId);
        RequireText("reason", reason);
        if (permanentCustomerItemId == key.CustomerItemId)
            throw new RegistryValidationException("permanent_customer_item_id", permanentCustomerItemId, "an item cannot be linked to itself");
        if (Item.LinkedTo is { } link)
        {
            return link.CustomerItemId == permanentCustomerItemId ? BuildView()
                : throw new RegistryConflictException($"Item '{key}' is already linked to '{link.CustomerItemId}'.");
        }

        if (Item.LinkedFrom.Count > 0)
            throw new RegistryConflictException($"Item '{key}' is itself a link target; links are one hop, so it cannot be linked onwards.");

        // The target records the link first: if this grain then fails to persist, a retry repeats an idempotent call.
        var target = GrainFactory.GetItemGrain(ItemKey.Create(key.TenantId, permanentCustomerItemId));
        await target.LinkFrom(key.CustomerItemId, reason);
        Item.LinkedTo = new LinkedItem { CustomerItemId = permanentCustomerItemId, LinkedAt = clock.GetUtcNow(), Reason = reason };
        await PersistAsync();
        return BuildView();
    }

    /// <inheritdoc />
    public async Task LinkFrom(string temporaryCustomerItemId, string? reason)
    {
        ItemKey.ValidateCustomerItemId(temporaryCustomerItemId);
        RequireText("reason", reason);
        ThrowIfLinked();
        if (Item.LinkedFrom.Exists(l => l.CustomerItemId == temporaryCustomerItemId)) return;
        Item.LinkedFrom.Add(new LinkedItem { CustomerItemId = temporaryCustomerItemId, LinkedAt = clock.GetUtcNow(), Reason = reason });
        await PersistAsync();
    }

    /// <inheritdoc />
    public Task<string> ExportEpcis() => Task.FromResult(
        EpcisExport.Write(EpcisExport.ItemEpc(key, Item.Epc, options), Item.CustodyEvents, clock.GetUtcNow(), options));

    private ItemView BuildView() => new()
    {
        TenantId = key.TenantId,
        CustomerItemId = key.CustomerItemId,
        Exists = Item.Registrations.Count > 0 || Item.CustodyEvents.Count > 0 || Item.Authentications.Count > 0
                 || Item.LinkedTo is not null || Item.LinkedFrom.Count > 0,
        Epc = EpcisExport.ItemEpc(key, Item.Epc, options),
        Lineage = [.. Item.Registrations],
        CurrentRegistration = Item.Registrations.FindLast(r => !r.IsSuperseded),
        Custody = [.. Item.CustodyEvents],
        Authentications = [.. Item.Authentications],
        LatestAuthentication = Item.Authentications.Count == 0 ? null : Item.Authentications[^1],
        LinkedTo = Item.LinkedTo,
        LinkedFrom = [.. Item.LinkedFrom],
    };

    /// <summary>
    /// The state-free checks of <see cref="Register"/>, shared with the item registry so a bad request is refused
    /// before its fingerprints are stored.
    /// </summary>
    /// <exception cref="RegistryValidationException">A field breaks its rule.</exception>
    internal static void ValidateRegistration(RegistrationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        RequireText("model_id", request.ModelId, required: true);
        RequireText("model_version", request.ModelVersion, required: true);
        RequireText("device_id", request.DeviceId);
        RequireText("operator_id", request.OperatorId);
        RequireText("location", request.Location);
        RequireText("supersede_reason", request.SupersedeReason);
        RequireText("request_id", request.RequestId);
        RequireFinite("quality", request.Quality);
        if (request.CaptureCount < 1)
            throw new RegistryValidationException("capture_count", request.CaptureCount.ToString(System.Globalization.CultureInfo.InvariantCulture), "capture_count must be at least 1");
        if (request.CapturedAt == default)
            throw new RegistryValidationException("captured_at", null, "captured_at is required");
        if ((request.Fingerprint is { Length: > 0 }) == (request.FingerprintReference is { Length: > 0 }))
            throw new RegistryValidationException("fingerprint", null, "exactly one of fingerprint (non-empty bytes) and fingerprint_reference is required");
        RequireText("fingerprint_reference", request.FingerprintReference, maxLength: 2048);
        if (request.Epc is not null && !EpcisIdentifiers.IsValidItemEpc(request.Epc))
            throw new RegistryValidationException("epc", request.Epc, EpcisIdentifiers.ItemEpcRule);
    }

    /// <summary>The state-free checks of <see cref="AddCustodyEvent"/>; returns the bare bizStep and disposition.</summary>
    /// <exception cref="InvalidCustodyEventException">A field breaks its rule.</exception>
    internal static (string BizStep, string? Disposition) ValidateCustodyEvent(CustodyEventRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!Enum.IsDefined(request.Action))
            throw new InvalidCustodyEventException("action", request.Action.ToString(), "action must be ADD, OBSERVE or DELETE");
        var bizStep = CbvVocabulary.NormalizeBizStep(request.BizStep);
        var disposition = request.Disposition is null ? null : CbvVocabulary.NormalizeDisposition(request.Disposition);
        if (request.ReadPointId is not null && !EpcisIdentifiers.IsValidLocationId(request.ReadPointId))
            throw new InvalidCustodyEventException("read_point", request.ReadPointId, EpcisIdentifiers.LocationRule);
        if (request.BizLocationId is not null && !EpcisIdentifiers.IsValidLocationId(request.BizLocationId))
            throw new InvalidCustodyEventException("biz_location", request.BizLocationId, EpcisIdentifiers.LocationRule);
        if (request.EventTime == default)
            throw new InvalidCustodyEventException("event_time", null, "eventTime is required, with its time zone offset");
        if (request.EventId is not null && !EpcisIdentifiers.IsValidEventId(request.EventId))
            throw new InvalidCustodyEventException("event_id", request.EventId, EpcisIdentifiers.EventIdRule);
        return (bizStep, disposition);
    }

    private async Task PersistAsync()
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Memory now holds a change that is not stored (or a stale ETag): drop this activation so the next call
            // starts again from what storage has.
            DeactivateOnIdle();
            throw;
        }
    }

    private void ThrowIfLinked()
    {
        if (Item.LinkedTo is { } link) throw new ItemLinkedException(key.ToString(), link.CustomerItemId);
    }

    private static void RequireText(string field, string? value, bool required = false, int maxLength = MaxTextLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required || value is not null) throw new RegistryValidationException(field, value, $"{field} must be non-blank text{(required ? "" : " when given")}");
            return;
        }

        if (value.Length > maxLength) throw new RegistryValidationException(field, value, $"{field} must be at most {maxLength} characters");
    }

    private static void RequireFinite(string field, Dictionary<string, double>? values)
    {
        if (values is null) throw new RegistryValidationException(field, null, $"{field} must be an object of numbers");
        foreach (var (name, value) in values)
        {
            if (!double.IsFinite(value)) throw new RegistryValidationException(field, name, $"{field} values must be finite numbers");
        }
    }
}
