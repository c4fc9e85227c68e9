namespace Entrupy.Registry;

/// <summary>The temporary (session) items linked into a permanent item.</summary>
public sealed record LinkedItem
{
    /// <summary>The other item's customer_item_id (same tenant).</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>When the link was made (UTC).</summary>
    public DateTimeOffset LinkedAt { get; init; }

    /// <summary>Why.</summary>
    public string? Reason { get; init; }
}

/// <summary>Everything the registry holds about one item.</summary>
public sealed record ItemView
{
    /// <summary>Tenant.</summary>
    public string TenantId { get; init; } = "";

    /// <summary>Customer item id.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>True once anything was recorded (registration, event, authentication or link).</summary>
    public bool Exists { get; init; }

    /// <summary>The item's EPC as used in EPCIS exports.</summary>
    public string Epc { get; init; } = "";

    /// <summary>Fingerprint lineage, oldest first, superseded entries included.</summary>
    public FingerprintRegistration[] Lineage { get; init; } = [];

    /// <summary>The current registration: the latest that is not superseded; null if none.</summary>
    public FingerprintRegistration? CurrentRegistration { get; init; }

    /// <summary>Custody events in chain order (verified when read).</summary>
    public CustodyEvent[] Custody { get; init; } = [];

    /// <summary>Authentication results, oldest first.</summary>
    public AuthenticationResult[] Authentications { get; init; } = [];

    /// <summary>The latest authentication result, or null.</summary>
    public AuthenticationResult? LatestAuthentication { get; init; }

    /// <summary>For a temporary item: the permanent item it was linked to. It then accepts no more changes.</summary>
    public LinkedItem? LinkedTo { get; init; }

    /// <summary>For a permanent item: the temporary items linked into it (their lineage and custody stay there, referenced).</summary>
    public LinkedItem[] LinkedFrom { get; init; } = [];
}
