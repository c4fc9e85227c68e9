using System.Buffers;
using System.Collections.Frozen;
using System.Text.RegularExpressions;

namespace Entrupy.Registry;

/// <summary>
/// GS1 CBV 2.0 vocabularies accepted for custody events, and their normalisation. A value may be given bare
/// (<c>shipping</c>), as a GS1 web URI (<c>https://ref.gs1.org/cbv/BizStep-shipping</c>) or as a CBV 1.x URN
/// (<c>urn:epcglobal:cbv:bizstep:shipping</c>); it is stored bare, which is how EPCIS 2.0 JSON writes CBV values.
/// </summary>
public static class CbvVocabulary
{
    /// <summary>Prefix of CBV 2.0 business step web URIs.</summary>
    public const string BizStepUriPrefix = "https://ref.gs1.org/cbv/BizStep-";

    /// <summary>Prefix of CBV 2.0 disposition web URIs.</summary>
    public const string DispositionUriPrefix = "https://ref.gs1.org/cbv/Disp-";

    /// <summary>CBV 2.0 business steps (the EPCIS 2.0 JSON schema's list).</summary>
    public static FrozenSet<string> BizSteps { get; } = FrozenSet.Create(StringComparer.Ordinal,
        "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning", "creating_class_instance",
        "cycle_counting", "decommissioning", "departing", "destroying", "disassembling", "dispensing", "encoding",
        "entering_exiting", "holding", "inspecting", "installing", "killing", "loading", "other", "packing", "picking",
        "receiving", "removing", "repackaging", "repairing", "replacing", "reserving", "retail_selling", "shipping",
        "staging_outbound", "stock_taking", "stocking", "storing", "transporting", "unloading", "unpacking",
        "void_shipping", "sensor_reporting", "sampling");

    /// <summary>CBV 2.0 dispositions (the EPCIS 2.0 JSON schema's list).</summary>
    public static FrozenSet<string> Dispositions { get; } = FrozenSet.Create(StringComparer.Ordinal,
        "active", "container_closed", "damaged", "destroyed", "dispensed", "disposed", "encoded", "expired",
        "in_progress", "in_transit", "inactive", "no_pedigree_match", "non_sellable_other", "partially_dispensed",
        "recalled", "reserved", "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
        "unknown", "available", "completeness_verified", "completeness_inferred", "conformant", "container_open",
        "mismatch_instance", "mismatch_class", "mismatch_quantity", "needs_replacement", "non_conformant", "unavailable");

    /// <summary>The rule quoted when a bizStep is rejected.</summary>
    public const string BizStepRule =
        "bizStep must be a CBV 2.0 business step, bare (e.g. 'shipping') or as 'https://ref.gs1.org/cbv/BizStep-shipping'";

    /// <summary>The rule quoted when a disposition is rejected.</summary>
    public const string DispositionRule =
        "disposition must be a CBV 2.0 disposition, bare (e.g. 'in_transit') or as 'https://ref.gs1.org/cbv/Disp-in_transit'";

    /// <summary>Normalises a business step to its bare CBV name.</summary>
    /// <exception cref="InvalidCustodyEventException">Not a CBV 2.0 business step.</exception>
    public static string NormalizeBizStep(string? value) =>
        Normalize(value, BizSteps, BizStepUriPrefix, "urn:epcglobal:cbv:bizstep:")
        ?? throw new InvalidCustodyEventException("biz_step", value, BizStepRule);

    /// <summary>Normalises a disposition to its bare CBV name.</summary>
    /// <exception cref="InvalidCustodyEventException">Not a CBV 2.0 disposition.</exception>
    public static string NormalizeDisposition(string? value) =>
        Normalize(value, Dispositions, DispositionUriPrefix, "urn:epcglobal:cbv:disp:")
        ?? throw new InvalidCustodyEventException("disposition", value, DispositionRule);

    private static string? Normalize(string? value, FrozenSet<string> names, string webPrefix, string urnPrefix)
    {
        if (value is null) return null;
        var bare = value.StartsWith(webPrefix, StringComparison.Ordinal) ? value[webPrefix.Length..]
            : value.StartsWith(urnPrefix, StringComparison.Ordinal) ? value[urnPrefix.Length..]
            : value;
        return names.TryGetValue(bare, out var canonical) ? canonical : null;
    }
}

/// <summary>Validation of the EPC-style identifiers custody events and items carry.</summary>
public static partial class EpcisIdentifiers
{
    /// <summary>The rule quoted when a readPoint or bizLocation id is rejected.</summary>
    public const string LocationRule =
        "a location id must be an SGLN EPC URI 'urn:epc:id:sgln:{company prefix}.{location reference}.{extension}' " +
        "(company prefix + location reference = 12 digits) or an absolute https URI of RFC 3986 characters " +
        "(non-ASCII percent-encoded), at most 512 characters";

    /// <summary>The rule quoted when an item EPC is rejected.</summary>
    public const string ItemEpcRule =
        "an item EPC must be an SGTIN EPC URI 'urn:epc:id:sgtin:{company prefix}.{indicator+item reference}.{serial}' " +
        "(company prefix + item reference = 13 digits) or an absolute https URI of RFC 3986 characters " +
        "(non-ASCII percent-encoded), at most 512 characters";

    /// <summary>The rule quoted when an eventID is rejected.</summary>
    public const string EventIdRule =
        "eventID must be an absolute URI (e.g. 'urn:uuid:…' or 'ni:///sha-256;…') of at most 512 RFC 3986 characters";

    /// <summary>True for an SGLN EPC URI or an absolute https URI.</summary>
    public static bool IsValidLocationId(string? value) =>
        value is { Length: > 0 and <= 512 } && (IsGs1Epc(SglnPattern().Match(value), 12) || IsHttpsUri(value));

    /// <summary>True for an SGTIN EPC URI or an absolute https URI.</summary>
    public static bool IsValidItemEpc(string? value) =>
        value is { Length: > 0 and <= 512 } && (IsGs1Epc(SgtinPattern().Match(value), 13) || IsHttpsUri(value));

    /// <summary>True for an absolute URI usable as an EPCIS eventID.</summary>
    public static bool IsValidEventId(string? value) =>
        value is { Length: > 0 and <= 512 } && IsUriCharacters(value)
        && Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme.Length > 0;

    // Only RFC 3986 characters (printable ASCII without space, '"', '\', '<', '>', '{', '}', '|', '^', '`'): such
    // values never need escaping, which keeps the custody hash's canonical JSON trivially reproducible elsewhere.
    private static readonly SearchValues<char> UriCharacters = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%");

    private static bool IsUriCharacters(string value) => !value.AsSpan().ContainsAnyExcept(UriCharacters);

    private static bool IsGs1Epc(Match match, int digits) =>
        match.Success && match.Groups[1].Length + match.Groups[2].Length == digits;

    private static bool IsHttpsUri(string value) =>
        IsUriCharacters(value) && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && uri.Scheme == Uri.UriSchemeHttps && uri.Host.Length > 0;

    // Tag Data Standard: the extension / serial are 1-20 characters from GS1's URI-safe set.
    [GeneratedRegex(@"^urn:epc:id:sgln:([0-9]{6,12})\.([0-9]{0,6})\.([A-Za-z0-9!'()*+,\-.:;=_]|%[0-9A-Fa-f]{2}){1,20}\z", RegexOptions.CultureInvariant)]
    private static partial Regex SglnPattern();

    [GeneratedRegex(@"^urn:epc:id:sgtin:([0-9]{6,12})\.([0-9]{1,7})\.([A-Za-z0-9!'()*+,\-.:;=_]|%[0-9A-Fa-f]{2}){1,20}\z", RegexOptions.CultureInvariant)]
    private static partial Regex SgtinPattern();
}
