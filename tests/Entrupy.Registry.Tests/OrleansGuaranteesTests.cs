using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Entrupy.Persistence.Sqlite;
using Entrupy.Storage;
using Entrupy.TestSupport;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.Hosting;
using Orleans.Storage;
using Orleans.TestingHost;
using static Entrupy.Registry.Tests.RegistryTestHost;

namespace Entrupy.Registry.Tests;

/// <summary>
/// What the tests of our own grain runtime proved (single activation, turns, no lost updates, state across
/// deactivation and restart, timeouts), proved again on Orleans with our grains on our SQLite provider, plus what only
/// a cluster of several silos can show: placement over silos and an item outliving the silo that held it.
/// </summary>
public sealed class OrleansGuaranteesTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 6, 1, 8, 0, 0, TimeSpan.FromHours(2));

    private readonly RegistryTestHost host = new();

    public void Dispose() => host.Dispose();

    [Fact]
    public async Task Concurrent_callers_of_one_item_share_one_activation_and_lose_no_update()
    {
        await using var cluster = await host.StartAsync();
        // Through the external client: every call and answer crosses Orleans' serializer.
        var item = cluster.Client.GetItemGrain("acme", "busy-bag");

        // 60 custody events and 20 authentications at once, from the thread pool.
        var events = Enumerable.Range(0, 60).Select(i => Task.Run(() =>
            item.AddCustodyEvent(Event(i % 2 == 0 ? "shipping" : "receiving", null, Start.AddMinutes(i)) with { EventId = $"urn:uuid:{Guid.NewGuid()}" })));
        var authentications = Enumerable.Range(0, 20).Select(i => Task.Run(() =>
            item.RecordAuthentication(new AuthenticationRequest { AuthenticationId = $"auth-{i}", ModelId = "auth", Status = AuthenticationStatus.Authentic })));
        var added = await Task.WhenAll(events);
        await Task.WhenAll(authentications);

        // One activation served them all (Orleans' own count, as an operator sees it).
        Assert.Equal(1, await ActivationsAsync(cluster, nameof(ItemGrain)));

        // Turns never overlapped: every event got its own sequence and links to the one before it.
        Assert.Equal(Enumerable.Range(0, 60), added.Select(e => e.Sequence).Order());
        var view = await item.GetItem();
        AssertIntactChain(view.Custody, 60);
        Assert.Equal(added.OrderBy(e => e.Sequence).Select(e => (e.EventId, e.Hash)), view.Custody.Select(e => (e.EventId, e.Hash)));
        Assert.Equal(20, view.Authentications.Length);

        // Stored as answered: a new activation reads (and verifies) the same 60-event chain from the SQLite file.
        await cluster.DeactivateAsync(item);
        Assert.Equal(0, await ActivationsAsync(cluster, nameof(ItemGrain)));
        Assert.Equal(view.Custody.Select(e => e.Hash), (await item.GetItem()).Custody.Select(e => e.Hash));
        var stored = StoredItemJson("acme/busy-bag");
        Assert.Equal(60, stored["custodyEvents"]!.AsArray().Count);
        Assert.Equal(20, stored["authentications"]!.AsArray().Count);
    }

    [Fact]
    public async Task An_items_state_survives_deactivation_and_a_restart_of_its_silo_on_the_same_sqlite_file()
    {
        await using var cluster = await host.StartAsync();
        var item = cluster.Client.GetItemGrain("acme", "bag-d");
        await item.Register(Registration());
        await item.Register(Registration(version: "2.2", reason: "repaired strap"));
        for (var i = 0; i < 3; i++) await item.AddCustodyEvent(Event("shipping", "in_transit", Start.AddHours(i)));
        var before = await item.GetItem();
        Assert.True(cluster.TryGetGrainContext(item.GetGrainId(), out var firstActivation));
        var firstActivationId = firstActivation.ActivationId;

        // Deactivated: the next call gets a new activation, which has only storage to start from.
        await cluster.DeactivateAsync(item);
        Assert.False(cluster.TryGetGrainContext(item.GetGrainId(), out _));
        var afterDeactivation = await item.GetItem();
        Assert.True(cluster.TryGetGrainContext(item.GetGrainId(), out var secondActivation));
        Assert.NotEqual(firstActivationId, secondActivation.ActivationId);
        AssertSameItem(before, afterDeactivation);

        // The silo restarts (a new process' worth of services) on the same file.
        var restarted = await cluster.RestartSiloAsync(cluster.Silos.Single());
        Assert.NotNull(restarted);
        var grains = restarted.ServiceProvider.GetRequiredService<IGrainFactory>();
        var afterRestart = await grains.GetItemGrain("acme", "bag-d").GetItem();
        AssertSameItem(before, afterRestart);
        var next = await grains.GetItemGrain("acme", "bag-d").AddCustodyEvent(Event("receiving", "active", Start.AddDays(1)));
        Assert.Equal(before.Custody[^1].Hash, next.PreviousHash);
    }

    [Fact]
    public async Task A_call_that_waits_past_the_response_timeout_fails_with_TimeoutException_and_a_retry_is_recorded_once()
    {
        // The item's state writes wait at a closed gate in front of the real SQLite provider.
        var storage = new GatedStorage(new SqliteGrainStorage(new SqliteGrainStorageOptions { DatabasePath = host.DatabasePath }), "item");
        var timeout = TimeSpan.FromSeconds(1);
        var builder = EntrupyTestCluster.Builder(databasePath: null, silo =>
        {
            silo.Services.AddGrainStorage(StorageNames.Default, (_, _) => storage);
            silo.AddRegistryGrains();
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = timeout);
        });
        builder.ConfigureClient(client => client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = timeout));
        await using var cluster = await builder.DeployAsync();
        var item = cluster.SiloGrains().GetItemGrain("acme", "slow-bag");
        Assert.False((await item.GetItem()).Exists);   // activated; reads are not gated

        storage.Close();
        var request = Event("shipping", "in_transit", Start) with { EventId = "urn:uuid:1b4e28ba-2fa1-41d2-883f-0016d3cca427" };
        var clock = Stopwatch.StartNew();
        var timedOut = await Assert.ThrowsAnyAsync<TimeoutException>(() => item.AddCustodyEvent(request));
        Assert.InRange(clock.Elapsed, timeout * 0.9, timeout * 10);
        Assert.Contains(nameof(IItemGrain.AddCustodyEvent), timedOut.Message);
        Assert.True(await storage.Blocked.WaitAsync(TimeSpan.FromSeconds(10)), "the timed-out call never reached its state write");

        // A call queued behind the waiting one times out the same way, here at the external client.
        await Assert.ThrowsAnyAsync<TimeoutException>(() => cluster.Client.GetItemGrain("acme", "slow-bag").GetItem());

        // A timeout leaves the outcome unknown: the write completes once the gate opens, and a retry under the same
        // eventID is answered from the chain instead of being recorded twice.
        storage.Open();
        var retried = await item.AddCustodyEvent(request);
        var view = await item.GetItem();
        Assert.Equal(retried.Hash, Assert.Single(view.Custody).Hash);
        Assert.Single(StoredItemJson("acme/slow-bag")["custodyEvents"]!.AsArray());
    }

    [Fact]
    public async Task Two_silos_outside_one_cluster_cannot_overwrite_each_others_writes_to_an_item()
    {
        // Two single-silo clusters on one file, as after a split: each activates the item from the same stored state.
        await using var a = await host.StartAsync();
        await using var b = await host.StartAsync();
        var onA = a.SiloGrains().GetItemGrain("acme", "contended");
        var onB = b.SiloGrains().GetItemGrain("acme", "contended");
        await onA.GetItem();
        await onB.GetItem();

        var fromA = await onA.AddCustodyEvent(Event("shipping", "in_transit", Start));
        // B holds a stale ETag: its write is refused by storage, not stored over A's.
        await Assert.ThrowsAsync<InconsistentStateException>(() => onB.AddCustodyEvent(Event("receiving", "active", Start.AddHours(1))));

        // B dropped that activation: its next call starts from what A stored, so the chain goes on without a fork.
        var fromB = await onB.AddCustodyEvent(Event("receiving", "active", Start.AddHours(1)));
        Assert.Equal(fromA.Hash, fromB.PreviousHash);
        Assert.Equal(1, fromB.Sequence);
        AssertIntactChain((await onB.GetItem()).Custody, 2);
    }

    [Fact]
    public async Task Placement_spreads_items_over_two_silos_and_an_item_outlives_the_silo_that_held_it()
    {
        // Two silos in one cluster sharing the SQLite file; failure detection tightened so a killed silo is declared
        // dead within about a second rather than Orleans' production default of tens of seconds.
        static void Tight(ClusterMembershipOptions o)
        {
            o.ProbeTimeout = TimeSpan.FromMilliseconds(500);
            o.NumMissedProbesLimit = 1;
            o.NumVotesForDeathDeclaration = 1;
            o.TableRefreshTimeout = TimeSpan.FromMilliseconds(500);
        }
        var builder = RegistryTestHost.Builder(host.DatabasePath, silos: 2, configure: silo => silo.Configure<ClusterMembershipOptions>(Tight));
        builder.ConfigureClient(client => client.Services.Configure<ClusterMembershipOptions>(Tight));   // bounds the stabilization wait
        await using var cluster = await builder.DeployAsync();
        Assert.Equal(2, cluster.GetActiveSilos().Count());

        var ids = Enumerable.Range(0, 40).Select(i => $"spread-{i:D2}").ToArray();
        await Task.WhenAll(ids.Select(async id =>
        {
            var item = cluster.Client.GetItemGrain("acme", id);
            await item.Register(Registration());
            await item.AddCustodyEvent(Event("commissioning", "active", Start, EpcisAction.Add));
        }));

        // Both silos host items (by the activations themselves and by Orleans' management statistics).
        var hostOf = ids.ToDictionary(id => id, id => HostOf(cluster, id) ?? throw new InvalidOperationException($"{id} is not active"));
        var perSilo = hostOf.Values.GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2, perSilo.Count);
        var statistics = (await cluster.Client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics())
            .Where(s => s.GrainType.Contains(nameof(ItemGrain), StringComparison.Ordinal)).ToList();
        Assert.Equal(40, statistics.Sum(s => s.ActivationCount));
        Assert.All(perSilo, p => Assert.Equal(p.Value, statistics.Where(s => s.SiloAddress.Equals(p.Key)).Sum(s => s.ActivationCount)));

        // Kill (no graceful stop) the silo holding the item; the other one takes it over from storage.
        var victim = cluster.Silos.Last();
        var survivor = cluster.Silos.First();
        var onVictim = ids.Where(id => hostOf[id].Equals(victim.SiloAddress)).ToArray();
        Assert.NotEmpty(onVictim);
        var before = await Task.WhenAll(onVictim.Select(id => cluster.Client.GetItemGrain("acme", id).GetItem()));
        await cluster.KillSiloAsync(victim);
        await cluster.WaitForLivenessToStabilizeAsync(didKill: true);

        var grains = survivor.ServiceProvider.GetRequiredService<IGrainFactory>();
        var after = await Task.WhenAll(onVictim.Select(id => grains.GetItemGrain("acme", id).GetItem()));
        for (var i = 0; i < onVictim.Length; i++) AssertSameItem(before[i], after[i]);
        Assert.All(onVictim, id => Assert.Equal(survivor.SiloAddress, HostOf(cluster, id)));

        // The chain goes on from the stored head, on the survivor.
        var next = await grains.GetItemGrain("acme", onVictim[0]).AddCustodyEvent(Event("shipping", "in_transit", Start.AddDays(1)));
        Assert.Equal(before[0].Custody[^1].Hash, next.PreviousHash);
    }

    [Fact]
    public async Task Our_exceptions_reach_an_external_client_with_their_fields()
    {
        await using var cluster = await host.StartAsync();
        var invalid = await Assert.ThrowsAsync<InvalidIdentifierException>(() => cluster.Client.GetGrain<IItemGrain>("acme/.dot").GetItem());
        Assert.Contains(ItemKey.CustomerItemIdRule, invalid.Rule);
        var item = cluster.Client.GetItemGrain("acme", "bag-x");
        var bad = await Assert.ThrowsAsync<InvalidCustodyEventException>(() => item.AddCustodyEvent(Event("returning", null, Start)));
        Assert.Equal("biz_step", bad.Field);
    }

    private static SiloAddress? HostOf(InProcessTestCluster cluster, string customerItemId) =>
        cluster.TryGetGrainContext(cluster.Client.GetItemGrain("acme", customerItemId).GetGrainId(), out var context) ? context.Address.SiloAddress : null;

    private static async Task<int> ActivationsAsync(InProcessTestCluster cluster, string grainClass) =>
        (await cluster.Client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics())
            .Where(s => s.GrainType.Contains(grainClass, StringComparison.Ordinal)).Sum(s => s.ActivationCount);

    private static void AssertIntactChain(CustodyEvent[] chain, int length)
    {
        Assert.Equal(length, chain.Length);
        for (var i = 0; i < chain.Length; i++)
        {
            Assert.Equal(i, chain[i].Sequence);
            Assert.Equal(i == 0 ? CustodyChain.GenesisHash : chain[i - 1].Hash, chain[i].PreviousHash);
        }
        Assert.Equal(length, chain.Select(e => e.Hash).Distinct().Count());
    }

    private static void AssertSameItem(ItemView expected, ItemView actual)
    {
        Assert.Equal(expected.Lineage.Select(r => (r.Number, r.ModelVersion, r.RegisteredAt, r.SupersededAt, r.SupersededReason)),
                     actual.Lineage.Select(r => (r.Number, r.ModelVersion, r.RegisteredAt, r.SupersededAt, r.SupersededReason)));
        Assert.Equal(expected.Custody.Select(e => (e.Hash, e.EventTime, e.EventTime.Offset, e.RecordTime)),
                     actual.Custody.Select(e => (e.Hash, e.EventTime, e.EventTime.Offset, e.RecordTime)));
    }

    /// <summary>The item's state as stored in the SQLite file (JSON, web naming).</summary>
    private JsonObject StoredItemJson(string key)
    {
        using var connection = new SqliteConnection($"Data Source={host.DatabasePath};Pooling=False");
        connection.Open();
        using var read = connection.CreateCommand();
        read.CommandText = "SELECT data FROM grain_state WHERE grain_type = 'item' AND grain_key = $key AND state_name = 'item'";
        read.Parameters.AddWithValue("$key", key);
        return JsonNode.Parse(Encoding.UTF8.GetString((byte[])read.ExecuteScalar()!))!.AsObject();
    }
}
