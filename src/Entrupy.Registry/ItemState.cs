namespace Entrupy.Registry;

/// <summary>The persisted state of an item grain (state name "item", default provider).</summary>
public sealed class ItemState
{
    /// <summary>The item's own EPC, if one was given at registration.</summary>
    public string? Epc { get; set; }

    /// <summary>Fingerprint lineage, oldest first.</summary>
    public List<FingerprintRegistration> Registrations { get; set; } = [];

    /// <summary>Hash-chained custody events, in order.</summary>
    public List<CustodyEvent> CustodyEvents { get; set; } = [];

    /// <summary>Authentication results, oldest first.</summary>
    public List<AuthenticationResult> Authentications { get; set; } = [];

    /// <summary>Set once this (temporary) item is linked to a permanent one.</summary>
    public LinkedItem? LinkedTo { get; set; }

    /// <summary>Temporary items linked into this one.</summary>
    public List<LinkedItem> LinkedFrom { get; set; } = [];
}
