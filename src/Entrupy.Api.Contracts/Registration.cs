namespace Entrupy.Registry;

/// <summary>A request to register (or re-register) an item's surface fingerprint.</summary>
public sealed record RegistrationRequest
{
    /// <summary>Fingerprint model that produced the fingerprint.</summary>
    public string ModelId { get; init; } = "";

    /// <summary>Version of that model.</summary>
    public string ModelVersion { get; init; } = "";

    /// <summary>Capture quality figures by name (e.g. sharpness, exposure, coverage), as the capture pipeline reports them.</summary>
    public Dictionary<string, double> Quality { get; init; } = [];

    /// <summary>Capturing device.</summary>
    public string? DeviceId { get; init; }

    /// <summary>Operator who captured.</summary>
    public string? OperatorId { get; init; }

    /// <summary>Where it was captured: an SGLN EPC URI or https URI, or free text.</summary>
    public string? Location { get; init; }

    /// <summary>When it was captured, with the capture site's offset.</summary>
    public DateTimeOffset CapturedAt { get; init; }

    /// <summary>Serialized fingerprint (<c>Fingerprint.ToBytes()</c>); or null when <see cref="FingerprintReference"/> is used.</summary>
    public byte[]? Fingerprint { get; init; }

    /// <summary>Opaque reference to a fingerprint stored elsewhere (blob URI); or null when <see cref="Fingerprint"/> is given.</summary>
    public string? FingerprintReference { get; init; }

    /// <summary>How many captures were combined into this fingerprint (at least 1).</summary>
    public int CaptureCount { get; init; } = 1;

    /// <summary>Optional EPC of the item (SGTIN EPC URI or https URI), used in EPCIS exports. Kept once set.</summary>
    public string? Epc { get; init; }

    /// <summary>Why the previous registration is superseded (e.g. "repaired"), for a re-registration.</summary>
    public string? SupersedeReason { get; init; }

    /// <summary>
    /// Optional idempotency id (at most 256 characters): a second request with the same id on the same item returns
    /// the entry the first one created instead of adding another.
    /// </summary>
    public string? RequestId { get; init; }
}

/// <summary>One entry of an item's fingerprint lineage. Entries are never removed; re-registration supersedes.</summary>
public sealed record FingerprintRegistration
{
    /// <summary>Position in the lineage, from 1.</summary>
    public int Number { get; init; }

    /// <summary>Fingerprint model id.</summary>
    public string ModelId { get; init; } = "";

    /// <summary>Fingerprint model version.</summary>
    public string ModelVersion { get; init; } = "";

    /// <summary>Capture quality figures by name.</summary>
    public Dictionary<string, double> Quality { get; init; } = [];

    /// <summary>Capturing device.</summary>
    public string? DeviceId { get; init; }

    /// <summary>Operator who captured.</summary>
    public string? OperatorId { get; init; }

    /// <summary>Capture location.</summary>
    public string? Location { get; init; }

    /// <summary>Capture time, with its original offset.</summary>
    public DateTimeOffset CapturedAt { get; init; }

    /// <summary>When the registry recorded it (UTC).</summary>
    public DateTimeOffset RegisteredAt { get; init; }

    /// <summary>Serialized fingerprint bytes, if given inline.</summary>
    public byte[]? Fingerprint { get; init; }

    /// <summary>Opaque fingerprint reference, if given instead.</summary>
    public string? FingerprintReference { get; init; }

    /// <summary>Captures combined into the fingerprint.</summary>
    public int CaptureCount { get; init; }

    /// <summary>The <see cref="RegistrationRequest.RequestId"/> that created the entry, if any.</summary>
    public string? RequestId { get; init; }

    /// <summary>When a later registration superseded this one; null while it is current.</summary>
    public DateTimeOffset? SupersededAt { get; init; }

    /// <summary>Why it was superseded.</summary>
    public string? SupersededReason { get; init; }

    /// <summary>Number of the registration that superseded it.</summary>
    public int? SupersededBy { get; init; }

    /// <summary>True once superseded.</summary>
    public bool IsSuperseded => SupersededAt is not null;
}
