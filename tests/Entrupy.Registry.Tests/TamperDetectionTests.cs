using Entrupy.TestSupport;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using static Entrupy.Registry.Tests.RegistryTestHost;

namespace Entrupy.Registry.Tests;

/// <summary>Edits the stored JSON of an item in the SQLite file, as an attacker with database access would.</summary>
public sealed class TamperDetectionTests : IDisposable
{
    private readonly RegistryTestHost host = new();

    public void Dispose() => host.Dispose();

    private async Task<CustodyEvent[]> SeedAsync(string item)
    {
        await using var cluster = await host.StartAsync();
        var grain = cluster.SiloGrains().GetItemGrain("acme", item);
        await grain.Register(Registration());
        var start = new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.FromHours(1));
        await grain.AddCustodyEvent(Event("commissioning", "active", start, EpcisAction.Add));
        await grain.AddCustodyEvent(Event("shipping", "in_transit", start.AddDays(1)));
        await grain.AddCustodyEvent(Event("receiving", "active", start.AddDays(2)));
        return (await grain.GetItem()).Custody;
    }

    private void EditStoredState(string item, Action<JsonObject> edit)
    {
        using var connection = new SqliteConnection($"Data Source={host.DatabasePath};Pooling=False");
        connection.Open();
        using var read = connection.CreateCommand();
        read.CommandText = "SELECT data FROM grain_state WHERE grain_type = 'item' AND grain_key = $key AND state_name = 'item'";
        read.Parameters.AddWithValue("$key", "acme/" + item);
        var json = JsonNode.Parse(Encoding.UTF8.GetString((byte[])read.ExecuteScalar()!))!.AsObject();
        edit(json);
        using var write = connection.CreateCommand();
        write.CommandText = "UPDATE grain_state SET data = $data WHERE grain_type = 'item' AND grain_key = $key AND state_name = 'item'";
        write.Parameters.AddWithValue("$key", "acme/" + item);
        write.Parameters.AddWithValue("$data", Encoding.UTF8.GetBytes(json.ToJsonString()));
        Assert.Equal(1, write.ExecuteNonQuery());
    }

    private async Task<CustodyChainTamperedException> ReadAfterRestartAsync(string item)
    {
        await using var cluster = await host.StartAsync();
        var grain = cluster.SiloGrains().GetItemGrain("acme", item);
        var ex = await Assert.ThrowsAsync<CustodyChainTamperedException>(() => grain.GetItem());
        // Every other call fails the same way: nothing can be appended to, or exported from, a broken chain.
        await Assert.ThrowsAsync<CustodyChainTamperedException>(() => grain.ExportEpcis());
        await Assert.ThrowsAsync<CustodyChainTamperedException>(() => grain.AddCustodyEvent(Event("shipping", null, DateTimeOffset.UtcNow)));
        return ex;
    }

    [Fact]
    public async Task An_untouched_file_reads_back_and_verifies()
    {
        var events = await SeedAsync("clean");
        EditStoredState("clean", _ => { });   // a rewrite of identical JSON is not tampering
        await using var cluster = await host.StartAsync();
        Assert.Equal(events.Select(e => e.Hash), (await cluster.SiloGrains().GetItemGrain("acme", "clean").GetItem()).Custody.Select(e => e.Hash));
    }

    [Fact]
    public async Task Changing_a_disposition_is_detected_and_names_that_event()
    {
        var events = await SeedAsync("edited");
        EditStoredState("edited", state => state["custodyEvents"]![1]!["disposition"] = "retail_sold");
        var ex = await ReadAfterRestartAsync("edited");
        Assert.Equal(1, ex.Sequence);
        Assert.Equal(events[1].EventId, ex.EventId);
        Assert.Contains(events[1].EventId, ex.Message);
        Assert.Contains("acme/edited", ex.Message);
        Assert.Contains("recorded hash", ex.Reason);
    }

    [Fact]
    public async Task Rewriting_an_event_and_its_hash_is_caught_by_the_next_link()
    {
        var events = await SeedAsync("rehashed");
        EditStoredState("rehashed", state =>
        {
            var node = state["custodyEvents"]![0]!;
            node["eventTime"] = "2026-02-01T09:00:00+01:00";
            var forged = new CustodyEvent
            {
                Sequence = 0, EventId = events[0].EventId, Action = events[0].Action, BizStep = events[0].BizStep,
                Disposition = events[0].Disposition, ReadPointId = events[0].ReadPointId, BizLocationId = events[0].BizLocationId,
                EventTime = DateTimeOffset.Parse("2026-02-01T09:00:00+01:00"), EventTimeZoneOffset = "+01:00",
                RecordTime = events[0].RecordTime, PreviousHash = events[0].PreviousHash,
            };
            node["hash"] = CustodyChain.ComputeHash("acme/rehashed", forged);
        });
        var ex = await ReadAfterRestartAsync("rehashed");
        Assert.Equal(1, ex.Sequence);
        Assert.Contains("does not link", ex.Reason);
    }

    [Fact]
    public async Task Deleting_an_event_is_detected()
    {
        var events = await SeedAsync("deleted");
        EditStoredState("deleted", state => state["custodyEvents"]!.AsArray().RemoveAt(1));
        var ex = await ReadAfterRestartAsync("deleted");
        Assert.Equal(1, ex.Sequence);
        Assert.Equal(events[2].EventId, ex.EventId);
    }

    [Fact]
    public async Task Changing_only_the_offset_is_detected()
    {
        await SeedAsync("offset");
        EditStoredState("offset", state => state["custodyEvents"]![2]!["eventTimeZoneOffset"] = "+05:00");
        Assert.Equal(2, (await ReadAfterRestartAsync("offset")).Sequence);
    }

    [Fact]
    public async Task Restoring_the_stored_history_makes_the_item_usable_again_without_a_restart()
    {
        var events = await SeedAsync("restored");
        EditStoredState("restored", state => state["custodyEvents"]![0]!["bizStep"] = "packing");
        await using var cluster = await host.StartAsync();
        var grain = cluster.SiloGrains().GetItemGrain("acme", "restored");
        Assert.Equal(0, (await Assert.ThrowsAsync<CustodyChainTamperedException>(() => grain.GetItem())).Sequence);

        // A failed activation is discarded, so the next call reads storage again.
        EditStoredState("restored", state => state["custodyEvents"]![0]!["bizStep"] = events[0].BizStep);
        Assert.Equal(events.Select(e => e.Hash), (await grain.GetItem()).Custody.Select(e => e.Hash));
    }
}
