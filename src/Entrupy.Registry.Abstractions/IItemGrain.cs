using Orleans;

namespace Entrupy.Registry;

/// <summary>
/// One physical item of one tenant. Key: <c>{tenantId}/{customerItemId}</c> (build it with <see cref="ItemKey"/>).
/// Every mutation is durable when its task completes. Every call verifies the custody hash chain first and fails with
/// <see cref="CustodyChainTamperedException"/> if stored history was altered.
/// </summary>
public interface IItemGrain : IGrainWithStringKey
{
    /// <summary>
    /// Registers a fingerprint. An earlier current registration is kept, marked superseded. A request carrying a
    /// <see cref="RegistrationRequest.RequestId"/> already in the lineage returns that entry and changes nothing.
    /// </summary>
    /// <exception cref="RegistryValidationException">A field breaks its rule.</exception>
    Task<FingerprintRegistration> Register(RegistrationRequest request);

    /// <summary>The full view: lineage, custody, authentications, links.</summary>
    Task<ItemView> GetItem();

    /// <summary>The current registration (latest not superseded), or null; cheaper than <see cref="GetItem"/> for a compare.</summary>
    Task<FingerprintRegistration?> GetCurrentRegistration();

    /// <summary>The latest custody event, or null; what a trace shows beside each candidate.</summary>
    Task<CustodyEvent?> GetLastCustodyEvent();

    /// <summary>Appends a custody event to the hash chain (idempotent by eventID).</summary>
    /// <exception cref="InvalidCustodyEventException">bizStep, disposition, a location id or the eventID breaks its rule.</exception>
    Task<CustodyEvent> AddCustodyEvent(CustodyEventRequest request);

    /// <summary>Custody events with <c>Sequence &gt;= fromSequence</c>, at most <paramref name="maxCount"/> (1-1000).</summary>
    Task<CustodyEvent[]> ListCustodyEvents(int fromSequence, int maxCount);

    /// <summary>Records an authentication result (idempotent by id).</summary>
    Task<AuthenticationResult> RecordAuthentication(AuthenticationRequest request);

    /// <summary>Changes an authentication's status, scores or reviewer verdict.</summary>
    /// <exception cref="RegistryNotFoundException">No such authentication.</exception>
    Task<AuthenticationResult> UpdateAuthentication(string authenticationId, AuthenticationUpdate update);

    /// <summary>
    /// Links this temporary item to the permanent item <paramref name="permanentCustomerItemId"/> of the same tenant.
    /// The permanent item records the link; this item keeps its lineage and custody and accepts no more changes.
    /// Repeating the same link is a no-op; linking elsewhere fails with <see cref="RegistryConflictException"/>.
    /// </summary>
    Task<ItemView> LinkTo(string permanentCustomerItemId, string? reason);

    /// <summary>Called by a temporary item's <see cref="LinkTo"/>: records that it now refers here (idempotent).</summary>
    Task LinkFrom(string temporaryCustomerItemId, string? reason);

    /// <summary>The item's custody events as an EPCIS 2.0 JSON-LD <c>EPCISDocument</c>.</summary>
    Task<string> ExportEpcis();
}
