using System.Globalization;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Entrupy.Registry;

/// <summary>
/// The custody hash chain. An event's hash is the lowercase hex SHA-256 of the UTF-8 bytes of its canonical form:
/// a JSON object without whitespace, keys in exactly this order, absent optional values as <c>null</c>. Every value is
/// printable ASCII without '"' or '\' (ids are validated to RFC 3986 characters), so no string ever needs escaping:
/// <code>{"v":1,"item":"{tenant}/{customerItemId}","sequence":N,"eventID":"…","action":"OBSERVE","bizStep":"shipping",
/// "disposition":"in_transit"|null,"readPoint":"…"|null,"bizLocation":"…"|null,
/// "eventTime":"2026-05-01T10:00:00.0000000+02:00","eventTimeZoneOffset":"+02:00",
/// "recordTime":"2026-05-01T08:00:01.1234567+00:00","previousHash":"…"}</code>
/// Times use the round-trip format ("O") with their stored offset. The first event's previousHash is 64 zeros.
/// Including the item key and sequence binds an event to its place: it cannot be moved to another item or reordered.
/// Public so that clients can re-verify a chain they received (<see cref="Verify"/>).
/// </summary>
public static class CustodyChain
{
    /// <summary>previousHash of an item's first event.</summary>
    public static readonly string GenesisHash = new('0', 64);

    /// <summary>The canonical form of <paramref name="custodyEvent"/> for item <paramref name="itemKey"/>.</summary>
    public static byte[] CanonicalBytes(string itemKey, CustodyEvent custodyEvent)
    {
        ArgumentNullException.ThrowIfNull(custodyEvent);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteNumber("v", 1);
            json.WriteString("item", itemKey);
            json.WriteNumber("sequence", custodyEvent.Sequence);
            json.WriteString("eventID", custodyEvent.EventId);
            json.WriteString("action", ActionName(custodyEvent.Action));
            json.WriteString("bizStep", custodyEvent.BizStep);
            json.WriteString("disposition", custodyEvent.Disposition);
            json.WriteString("readPoint", custodyEvent.ReadPointId);
            json.WriteString("bizLocation", custodyEvent.BizLocationId);
            json.WriteString("eventTime", custodyEvent.EventTime.ToString("O", CultureInfo.InvariantCulture));
            json.WriteString("eventTimeZoneOffset", custodyEvent.EventTimeZoneOffset);
            json.WriteString("recordTime", custodyEvent.RecordTime.ToString("O", CultureInfo.InvariantCulture));
            json.WriteString("previousHash", custodyEvent.PreviousHash);
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>The hash of <paramref name="custodyEvent"/> (its <c>Hash</c> field is ignored).</summary>
    public static string ComputeHash(string itemKey, CustodyEvent custodyEvent) =>
        Convert.ToHexStringLower(SHA256.HashData(CanonicalBytes(itemKey, custodyEvent)));

    /// <summary>"ADD", "OBSERVE" or "DELETE".</summary>
    public static string ActionName(EpcisAction action) => action switch
    {
        EpcisAction.Add => "ADD",
        EpcisAction.Observe => "OBSERVE",
        EpcisAction.Delete => "DELETE",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown EPCIS action"),
    };

    /// <summary>Formats an offset as EPCIS does: "+02:00", "-06:00", "+00:00".</summary>
    public static string FormatOffset(TimeSpan offset) =>
        (offset < TimeSpan.Zero ? "-" : "+") + offset.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture);

    /// <summary>
    /// Checks every event in order: sequence, link to its predecessor, its own hash, and that its offset matches its
    /// eventTime. Throws for the first event that fails.
    /// </summary>
    /// <exception cref="CustodyChainTamperedException">An event does not verify.</exception>
    public static void Verify(string itemKey, IReadOnlyList<CustodyEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var expectedPrevious = GenesisHash;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e is null) throw new CustodyChainTamperedException(itemKey, i, "(missing)", "is missing");
            if (e.Sequence != i)
                throw new CustodyChainTamperedException(itemKey, i, e.EventId, $"has sequence {e.Sequence}, expected {i}");
            if (!string.Equals(e.PreviousHash, expectedPrevious, StringComparison.Ordinal))
                throw new CustodyChainTamperedException(itemKey, i, e.EventId, "does not link to the hash of the event before it");
            if (!string.Equals(ComputeHash(itemKey, e), e.Hash, StringComparison.Ordinal))
                throw new CustodyChainTamperedException(itemKey, i, e.EventId, "does not match its recorded hash");
            if (!string.Equals(FormatOffset(e.EventTime.Offset), e.EventTimeZoneOffset, StringComparison.Ordinal))
                throw new CustodyChainTamperedException(itemKey, i, e.EventId, "has an eventTimeZoneOffset that differs from its eventTime");
            expectedPrevious = e.Hash;
        }
    }
}
