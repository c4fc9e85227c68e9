using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Entrupy.Registry;

/// <summary>
/// Writes an item's custody events as an EPCIS 2.0 JSON-LD <c>EPCISDocument</c>: one ObjectEvent per custody event,
/// with the item's EPC as its only <c>epcList</c> entry. The chain fields travel as extensions
/// (<c>entrupy:sequence</c>, <c>entrupy:previousHash</c>, <c>entrupy:hash</c>) so a receiver can re-verify the chain.
/// </summary>
public static class EpcisExport
{
    /// <summary>The GS1 EPCIS 2.0 JSON-LD context.</summary>
    public const string EpcisContext = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

    /// <summary>The item's EPC: its own SGTIN/https EPC if it has one, else <c>{ItemUriBase}{tenant}/{customerItemId}</c>.</summary>
    public static string ItemEpc(ItemKey key, string? ownEpc, RegistryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return ownEpc ?? options.ItemUriBase + Uri.EscapeDataString(key.TenantId) + "/" + Uri.EscapeDataString(key.CustomerItemId);
    }

    /// <summary>"ADD", "OBSERVE" or "DELETE".</summary>
    public static string ActionName(EpcisAction action) => CustodyChain.ActionName(action);

    /// <summary>Builds the document (indented JSON).</summary>
    public static string Write(string epc, IEnumerable<CustodyEvent> events, DateTimeOffset creationDate, RegistryOptions options)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(options);
        var eventList = new JsonArray();
        foreach (var e in events)
        {
            var node = new JsonObject
            {
                ["type"] = "ObjectEvent",
                ["eventID"] = e.EventId,
                ["eventTime"] = e.EventTime.ToString("O", CultureInfo.InvariantCulture),
                ["eventTimeZoneOffset"] = e.EventTimeZoneOffset,
                ["recordTime"] = e.RecordTime.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
                ["epcList"] = new JsonArray(epc),
                ["action"] = ActionName(e.Action),
                ["bizStep"] = e.BizStep,
            };
            if (e.Disposition is not null) node["disposition"] = e.Disposition;
            if (e.ReadPointId is not null) node["readPoint"] = new JsonObject { ["id"] = e.ReadPointId };
            if (e.BizLocationId is not null) node["bizLocation"] = new JsonObject { ["id"] = e.BizLocationId };
            node["entrupy:sequence"] = e.Sequence;
            node["entrupy:previousHash"] = e.PreviousHash;
            node["entrupy:hash"] = e.Hash;
            eventList.Add(node);
        }

        var document = new JsonObject
        {
            ["@context"] = new JsonArray(EpcisContext, new JsonObject { ["entrupy"] = options.ExtensionNamespace }),
            ["type"] = "EPCISDocument",
            ["schemaVersion"] = "2.0",
            ["creationDate"] = creationDate.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
            ["epcisBody"] = new JsonObject { ["eventList"] = eventList },
        };
        return document.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
