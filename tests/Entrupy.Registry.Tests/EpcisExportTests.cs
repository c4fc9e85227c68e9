using Entrupy.TestSupport;
using System.Diagnostics;
using System.Text.Json.Nodes;
using static Entrupy.Registry.Tests.RegistryTestHost;

namespace Entrupy.Registry.Tests;

/// <summary>
/// Validates exports against GS1's EPCIS 2.0 JSON Schema with Debian's python3-jsonschema (apt: python3-jsonschema).
/// The standard's files come from EPCIS_STANDARD_DIR, default /work/shared/standards/epcis-2.0.
/// </summary>
public sealed class EpcisExportTests : IDisposable
{
    private static readonly string StandardDir =
        Environment.GetEnvironmentVariable("EPCIS_STANDARD_DIR") ?? "/work/shared/standards/epcis-2.0";

    private readonly RegistryTestHost host = new();

    public void Dispose() => host.Dispose();

    private static (bool Valid, string Output) Validate(string documentPath)
    {
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "validate_epcis.py"));
        start.ArgumentList.Add(Path.Combine(StandardDir, "EPCIS-JSON-Schema.json"));
        start.ArgumentList.Add(documentPath);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(30_000), "validator did not finish");
        var output = stdout.Result + stderr;
        Assert.True(process.ExitCode is 0 or 1, "validator failed to run (is python3-jsonschema installed?): " + output);
        return (process.ExitCode == 0 && output.StartsWith("VALID", StringComparison.Ordinal), output);
    }

    private string WriteTemp(string name, string json)
    {
        var path = Path.Combine(host.Folder, name);
        File.WriteAllText(path, json);
        return path;
    }

    [Theory]
    [InlineData("Example_9.6.1-ObjectEvent.jsonld")]
    [InlineData("Example_9.6.2-ObjectEvent.jsonld")]
    [InlineData("PersistentDisposition-example.jsonld")]
    public void The_standards_own_examples_validate(string example)
    {
        var (valid, output) = Validate(Path.Combine(StandardDir, example));
        Assert.True(valid, output);
    }

    [Fact]
    public void The_validator_rejects_a_broken_document()
    {
        var broken = File.ReadAllText(Path.Combine(StandardDir, "Example_9.6.1-ObjectEvent.jsonld"))
            .Replace("\"bizStep\": \"shipping\"", "\"bizStep\": \"returning\"", StringComparison.Ordinal)
            .Replace("2005-04-03T20:33:31.116000-06:00", "2005-13-03T20:33:31.116000-06:00", StringComparison.Ordinal);
        var (valid, output) = Validate(WriteTemp("broken.jsonld", broken));
        Assert.False(valid);
        Assert.Contains("returning", output);
        Assert.Contains("date-time", output);
    }

    [Fact]
    public async Task An_items_custody_exports_as_a_valid_epcis_document()
    {
        await using var cluster = await host.StartAsync();
        var item = cluster.SiloGrains().GetItemGrain("acme", "bag:export-1");
        await item.Register(Registration());
        await item.AddCustodyEvent(Event("commissioning", "active", new DateTimeOffset(2026, 4, 1, 8, 0, 0, TimeSpan.FromHours(2)), EpcisAction.Add));
        await item.AddCustodyEvent(Event("https://ref.gs1.org/cbv/BizStep-shipping", "in_transit", new DateTimeOffset(2026, 4, 2, 8, 0, 0, TimeSpan.FromHours(-6))));
        await item.AddCustodyEvent(Event("retail_selling", "retail_sold", new DateTimeOffset(2026, 4, 3, 8, 0, 0, TimeSpan.Zero)) with { BizLocationId = null });
        await item.AddCustodyEvent(Event("receiving", "returned", new DateTimeOffset(2026, 4, 9, 8, 0, 0, TimeSpan.FromHours(1))) with { ReadPointId = null });
        await item.AddCustodyEvent(Event("inspecting", "mismatch_instance", new DateTimeOffset(2026, 4, 9, 9, 0, 0, TimeSpan.FromHours(1))));
        await item.AddCustodyEvent(Event("destroying", null, new DateTimeOffset(2026, 4, 10, 9, 0, 0, TimeSpan.FromHours(1)), EpcisAction.Delete));

        var json = await item.ExportEpcis();
        var (valid, output) = Validate(WriteTemp("export.jsonld", json));
        Assert.True(valid, output + "\n" + json);

        var document = JsonNode.Parse(json)!;
        Assert.Equal(EpcisExport.EpcisContext, (string?)document["@context"]![0]);
        Assert.Equal("2.0", (string?)document["schemaVersion"]);
        var events = document["epcisBody"]!["eventList"]!.AsArray();
        Assert.Equal(6, events.Count);
        Assert.Equal("https://id.registry.entrupy.com/items/acme/bag%3Aexport-1", (string?)events[0]!["epcList"]![0]);
        Assert.Equal("shipping", (string?)events[1]!["bizStep"]);
        Assert.Equal("-06:00", (string?)events[1]!["eventTimeZoneOffset"]);
        Assert.EndsWith("-06:00", (string?)events[1]!["eventTime"]);
        Assert.Equal("DELETE", (string?)events[5]!["action"]);
        Assert.Null(events[5]!["disposition"]);
        Assert.Equal((string?)events[0]!["entrupy:hash"], (string?)events[1]!["entrupy:previousHash"]);
    }

    [Fact]
    public async Task The_item_uri_base_is_configurable_and_checked()
    {
        await using var cluster = await host.StartAsync(new RegistryOptions { ItemUriBase = "https://registry.example.org/i/" });
        var item = cluster.SiloGrains().GetItemGrain("acme", "coat-1");
        Assert.Equal("https://registry.example.org/i/acme/coat-1", (await item.GetItem()).Epc);
        // Refused when the silo starts (the options are checked while Orleans builds the silo).
        await Assert.ThrowsAnyAsync<ArgumentException>(() => host.StartAsync(new RegistryOptions { ItemUriBase = "http://x.org/" }));
    }

    [Fact]
    public async Task An_item_with_an_sgtin_exports_under_that_epc_and_validates()
    {
        await using var cluster = await host.StartAsync();
        var item = cluster.SiloGrains().GetItemGrain("acme", "watch-7");
        await item.Register(Registration() with { Epc = "urn:epc:id:sgtin:0614141.107346.2017" });
        await item.AddCustodyEvent(Event("packing", "in_progress", new DateTimeOffset(2026, 4, 1, 8, 0, 0, TimeSpan.FromHours(14))));
        var json = await item.ExportEpcis();
        var (valid, output) = Validate(WriteTemp("sgtin.jsonld", json));
        Assert.True(valid, output + "\n" + json);
        Assert.Equal("urn:epc:id:sgtin:0614141.107346.2017", (string?)JsonNode.Parse(json)!["epcisBody"]!["eventList"]![0]!["epcList"]![0]);
    }
}
