using System.Text.Json.Serialization;

namespace Entrupy.Registry;

/// <summary>EPCIS 2.0 ObjectEvent action.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<EpcisAction>))]
public enum EpcisAction
{
    /// <summary>The item came into being or into the registry's scope (e.g. commissioning).</summary>
    [JsonStringEnumMemberName("ADD")] Add,

    /// <summary>The item was seen.</summary>
    [JsonStringEnumMemberName("OBSERVE")] Observe,

    /// <summary>The item left scope (e.g. destroyed, decommissioned).</summary>
    [JsonStringEnumMemberName("DELETE")] Delete,
}

/// <summary>A chain-of-custody event to record on an item (an EPCIS 2.0 ObjectEvent about that item).</summary>
public sealed record CustodyEventRequest
{
    /// <summary>Client-chosen eventID (absolute URI); a retry with the same id returns the stored event. Null: the registry assigns <c>urn:uuid:…</c>.</summary>
    public string? EventId { get; init; }

    /// <summary>ADD, OBSERVE or DELETE.</summary>
    public EpcisAction Action { get; init; } = EpcisAction.Observe;

    /// <summary>CBV 2.0 business step, bare or as a GS1 URI.</summary>
    public string BizStep { get; init; } = "";

    /// <summary>CBV 2.0 disposition, bare or as a GS1 URI; optional.</summary>
    public string? Disposition { get; init; }

    /// <summary>Where the event was seen: SGLN EPC URI or https URI; optional.</summary>
    public string? ReadPointId { get; init; }

    /// <summary>Where the item is afterwards: SGLN EPC URI or https URI; optional.</summary>
    public string? BizLocationId { get; init; }

    /// <summary>When it happened, with the local offset where it happened (kept as given).</summary>
    public DateTimeOffset EventTime { get; init; }
}

/// <summary>A recorded chain-of-custody event. Its <see cref="Hash"/> covers its content and the previous event's hash.</summary>
public sealed record CustodyEvent
{
    /// <summary>Position in the item's chain, from 0.</summary>
    public int Sequence { get; init; }

    /// <summary>EPCIS eventID (absolute URI).</summary>
    public string EventId { get; init; } = "";

    /// <summary>ADD, OBSERVE or DELETE.</summary>
    public EpcisAction Action { get; init; }

    /// <summary>Bare CBV 2.0 business step.</summary>
    public string BizStep { get; init; } = "";

    /// <summary>Bare CBV 2.0 disposition, or null.</summary>
    public string? Disposition { get; init; }

    /// <summary>readPoint id, or null.</summary>
    public string? ReadPointId { get; init; }

    /// <summary>bizLocation id, or null.</summary>
    public string? BizLocationId { get; init; }

    /// <summary>When it happened, with its original offset.</summary>
    public DateTimeOffset EventTime { get; init; }

    /// <summary>The original offset as EPCIS writes it, e.g. "+02:00".</summary>
    public string EventTimeZoneOffset { get; init; } = "+00:00";

    /// <summary>When the registry recorded it (UTC).</summary>
    public DateTimeOffset RecordTime { get; init; }

    /// <summary>Hash of the previous event (lowercase hex SHA-256); 64 zeros for the first.</summary>
    public string PreviousHash { get; init; } = "";

    /// <summary>SHA-256 (lowercase hex) of this event's canonical form, which includes <see cref="PreviousHash"/>.</summary>
    public string Hash { get; init; } = "";
}
