namespace Entrupy.Registry;

// The fields of these exceptions live in Exception.Data: Orleans' exception codec carries Data (and the type, message
// and stack) across silos and to clients, and this project stays free of Orleans attributes.

/// <summary>
/// Input broke a registry rule. <see cref="Rule"/> states the rule in words; the API maps this to 400 Bad Request.
/// </summary>
public class RegistryValidationException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="field">The offending field, as named on the wire (snake_case).</param>
    /// <param name="value">The rejected value (null when missing).</param>
    /// <param name="rule">The rule, in words.</param>
    public RegistryValidationException(string field, string? value, string rule)
        : base($"Invalid {field} {Describe(value)}: {rule}.", field)
    {
        Data[nameof(Field)] = field;
        Data[nameof(Value)] = value;
        Data[nameof(Rule)] = rule;
    }

    /// <summary>The offending field, as named on the wire.</summary>
    public string Field => Data[nameof(Field)] as string ?? ParamName ?? "";

    /// <summary>The rejected value, or null when it was missing.</summary>
    public string? Value => Data[nameof(Value)] as string;

    /// <summary>The rule the value breaks, in words.</summary>
    public string Rule => Data[nameof(Rule)] as string ?? "";

    // Values are echoed for diagnosis but capped, so a huge or binary input cannot bloat logs.
    private static string Describe(string? value) => value is null
        ? "(missing)"
        : "'" + (value.Length > 80 ? value[..80] + "…" : value).Replace("\n", "\\n", StringComparison.Ordinal) + "'";
}

/// <summary>A tenant id, customer item id or item key breaks its rule (see <see cref="ItemKey.CustomerItemIdRule"/>).</summary>
public sealed class InvalidIdentifierException(string field, string? value, string rule)
    : RegistryValidationException(field, value, rule);

/// <summary>A custody event breaks an EPCIS 2.0 / CBV 2.0 rule (unknown bizStep, bad location id, …).</summary>
public sealed class InvalidCustodyEventException(string field, string? value, string rule)
    : RegistryValidationException(field, value, rule);

/// <summary>
/// The stored custody history of an item does not verify against its hash chain: stored data was changed outside
/// the registry. Thrown on every call to the item until the history is restored; nothing is appended to it.
/// </summary>
public sealed class CustodyChainTamperedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="itemKey">The item, as <c>{tenant}/{customer_item_id}</c>.</param>
    /// <param name="sequence">Sequence number (0-based) of the first event that does not verify.</param>
    /// <param name="eventId">Its eventID.</param>
    /// <param name="reason">What did not match.</param>
    public CustodyChainTamperedException(string itemKey, int sequence, string eventId, string reason)
        : base($"Custody chain of item '{itemKey}' does not verify: event #{sequence} ({eventId}) {reason}. " +
               "Stored history was modified outside the registry.")
    {
        Data[nameof(ItemKey)] = itemKey;
        Data[nameof(Sequence)] = sequence;
        Data[nameof(EventId)] = eventId;
        Data[nameof(Reason)] = reason;
    }

    /// <summary>The item whose chain failed.</summary>
    public string ItemKey => Data[nameof(ItemKey)] as string ?? "";

    /// <summary>Sequence number of the first event that does not verify.</summary>
    public int Sequence => Data[nameof(Sequence)] is int sequence ? sequence : -1;

    /// <summary>eventID of the first event that does not verify.</summary>
    public string EventId => Data[nameof(EventId)] as string ?? "";

    /// <summary>What did not match (its own hash, or the link to its predecessor).</summary>
    public string Reason => Data[nameof(Reason)] as string ?? "";
}

/// <summary>A temporary item was linked to a permanent one; it accepts no more changes. Use <see cref="LinkedTo"/>.</summary>
public sealed class ItemLinkedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="itemKey">The linked (temporary) item.</param>
    /// <param name="linkedTo">The permanent item it is linked to.</param>
    public ItemLinkedException(string itemKey, string linkedTo)
        : base($"Item '{itemKey}' is linked to '{linkedTo}' and accepts no more changes; use '{linkedTo}'.")
    {
        Data[nameof(ItemKey)] = itemKey;
        Data[nameof(LinkedTo)] = linkedTo;
    }

    /// <summary>The linked (temporary) item.</summary>
    public string ItemKey => Data[nameof(ItemKey)] as string ?? "";

    /// <summary>The permanent item it is linked to.</summary>
    public string LinkedTo => Data[nameof(LinkedTo)] as string ?? "";
}

/// <summary>The operation conflicts with the item's current state (for example, linking to a second target).</summary>
public sealed class RegistryConflictException(string message) : InvalidOperationException(message);

/// <summary>No such record on the item (for example, an unknown authentication id).</summary>
public sealed class RegistryNotFoundException(string message) : KeyNotFoundException(message);
