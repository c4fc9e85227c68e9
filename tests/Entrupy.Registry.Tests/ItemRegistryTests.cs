using System.Diagnostics;
using System.Security.Cryptography;
using Entrupy.Fingerprinting;
using Entrupy.Persistence.Sqlite;
using Entrupy.Storage;
using Entrupy.TestSupport;
using Orleans.Runtime;
using Orleans.Hosting;
using Orleans.Runtime.Hosting;
using Orleans.Storage;
using Orleans.TestingHost;
using Entrupy.Registry.Api;
using Entrupy.Registry.Fingerprints;
using Entrupy.Registry.Index;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Entrupy.Registry.Tests;

[Collection(DevsetCollection.Name)]
public sealed class ItemRegistryTests(DevsetFixture fx, ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset CapturedAt = new(2026, 5, 1, 10, 0, 0, TimeSpan.FromHours(2));
    private readonly RegistryTestHost host = new();

    public void Dispose() => host.Dispose();

    private Task<InProcessTestCluster> StartAsync(RegistryOptions? options = null) => RegistryTestHost.StartAsync(host.DatabasePath, options, fx.Model);

    private static IItemRegistry Registry(InProcessTestCluster cluster) => cluster.SiloServices().GetRequiredService<IItemRegistry>();

    private static Task<RegistrationResponse> Register(IItemRegistry registry, string tenant, string id, Fingerprint enrolment,
        string? requestId = null, RegistrationMetadata? metadata = null) =>
        registry.RegisterAsync(ItemKey.Create(tenant, id), [DevsetFixture.Extracted(enrolment)],
            metadata ?? new RegistrationMetadata { DeviceId = "dev-1", CapturedAt = CapturedAt }, requestId ?? Guid.NewGuid().ToString("N"));

    private static Task<TraceResponse> Trace(IItemRegistry registry, string tenant, Fingerprint probe, int top = 5) =>
        registry.TraceAsync(tenant, [DevsetFixture.Extracted(probe)], top);

    private static Task<CompareResponse> Compare(IItemRegistry registry, string tenant, string id, Fingerprint probe) =>
        registry.CompareAsync(ItemKey.Create(tenant, id), [DevsetFixture.Extracted(probe)]);

    private static CustodyEventRequest Commissioning() => new()
    {
        Action = EpcisAction.Add,
        BizStep = "commissioning",
        Disposition = "active",
        ReadPointId = "urn:epc:id:sgln:0614141.07346.1234",
        EventTime = CapturedAt,
    };

    [Fact]
    public async Task Compare_matches_a_genuine_probe_and_rejects_an_impostor_with_the_matchers_own_scores()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        string a = fx.MatchableItem(0), b = fx.MatchableItem(1);
        var registered = await Register(registry, "acme", "bag-a", fx.Enrolments[a]);
        Assert.Equal(1, registered.Registration.Number);
        Assert.Null(registered.Superseded);

        var genuine = fx.GenuineProbes(a).First();
        var match = await Compare(registry, "acme", "bag-a", genuine);
        Assert.True(match.Match);
        Assert.Equal(fx.Matcher.Compare(fx.AsStored(genuine), fx.AsStored(fx.Enrolments[a])).Score, match.Score);
        Assert.Equal(fx.Model.OperatingThreshold, match.Threshold);
        Assert.Equal(1, match.RegistrationNumber);
        Assert.StartsWith(fx.Model.Id, match.Model);

        var impostor = fx.GenuineProbes(b).First();
        var mismatch = await Compare(registry, "acme", "bag-a", impostor);
        Assert.False(mismatch.Match);
        Assert.Equal(fx.Matcher.Compare(fx.AsStored(impostor), fx.AsStored(fx.Enrolments[a])).Score, mismatch.Score);
        Assert.True(mismatch.Score < match.Score);

        // Several probes fuse by the maximum.
        var fused = await registry.CompareAsync(ItemKey.Create("acme", "bag-a"), [DevsetFixture.Extracted(impostor), DevsetFixture.Extracted(genuine)]);
        Assert.Equal(match.Score, fused.Score);

        await Assert.ThrowsAsync<RegistryNotFoundException>(() => Compare(registry, "acme", "never-registered", genuine));
    }

    [Fact]
    public async Task A_registration_of_several_captures_matches_probes_of_any_of_them()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        string a = fx.MatchableItem(0), b = fx.MatchableItem(1), c = fx.MatchableItem(2);
        for (var i = 3; i < 8; i++) await Register(registry, "acme", $"other-{i}", fx.Enrolments[fx.MatchableItem(i)]);
        var response = await registry.RegisterAsync(ItemKey.Create("acme", "two-spots"),
            [DevsetFixture.Extracted(fx.Enrolments[a], 0), DevsetFixture.Extracted(fx.Enrolments[b], 1)],
            new RegistrationMetadata { CapturedAt = CapturedAt }, "multi");
        Assert.Equal(2, response.Registration.CaptureCount);
        Assert.Single(host.StoredRecords("fingerprint", "set"), r => r.Key.StartsWith("acme/two-spots/", StringComparison.Ordinal));

        foreach (var (spot, probe) in new[] { (a, fx.GenuineProbes(a).First()), (b, fx.GenuineProbes(b).First()) })
        {
            var compare = await Compare(registry, "acme", "two-spots", probe);
            Assert.True(compare.Match);
            Assert.Equal(fx.Matcher.Compare(fx.AsStored(probe), [fx.AsStored(fx.Enrolments[a]), fx.AsStored(fx.Enrolments[b])]).Score, compare.Score);
            Assert.Equal("two-spots", (await Trace(registry, "acme", probe)).Match?.CustomerItemId);
        }
        Assert.False((await Compare(registry, "acme", "two-spots", fx.GenuineProbes(c).First())).Match);
    }

    [Fact]
    public async Task Fingerprints_live_in_their_own_write_once_records_not_in_the_item_state()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        var a = fx.MatchableItem(0);
        await Register(registry, "acme", "bag-a", fx.Enrolments[a], metadata: new RegistrationMetadata { CapturedAt = CapturedAt, CustodyEvent = Commissioning() });

        var view = await cluster.SiloGrains().GetItemGrain("acme", "bag-a").GetItem();
        var current = view.CurrentRegistration!;
        Assert.Null(current.Fingerprint);
        Assert.StartsWith(FingerprintReferences.Prefix + "acme/bag-a/", current.FingerprintReference);
        Assert.Equal((fx.Model.Id, fx.Model.Version, 1), (current.ModelId, current.ModelVersion, current.CaptureCount));
        Assert.Equal(fx.Enrolments[a].Quality.Focus, current.Quality["focus"]);

        var enrolmentBytes = fx.Enrolments[a].ToBytes().Length;
        Assert.True(enrolmentBytes > 100_000, $"an enrolment is {enrolmentBytes} bytes");
        var itemRow = Assert.Single(host.StoredRecords("item"));
        Assert.True(itemRow.Bytes < 10_000, $"item state is {itemRow.Bytes} bytes");
        var record = Assert.Single(host.StoredRecords("fingerprint"));   // the whole set: one write
        Assert.Equal(enrolmentBytes + 4 + 1 + 2 + 4 + 32, record.Bytes); // header, then length + SHA-256 and the capture
    }

    [Fact]
    public async Task A_registration_the_item_refuses_leaves_no_fingerprint_set_behind()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        var a = fx.MatchableItem(0);
        await Register(registry, "acme", "bag-epc", fx.Enrolments[a], "first", new RegistrationMetadata { CapturedAt = CapturedAt, Epc = "urn:epc:id:sgtin:0614141.107346.1" });
        Assert.Single(host.StoredRecords("fingerprint", "set"));

        // Another EPC for the same item: refused by the item after the set was stored; the set goes again.
        var refused = await Assert.ThrowsAsync<RegistryConflictException>(() => Register(registry, "acme", "bag-epc", fx.Enrolments[a], "second",
            new RegistrationMetadata { CapturedAt = CapturedAt, Epc = "urn:epc:id:sgtin:0614141.107346.2" }));
        Assert.Contains("EPC", refused.Message);
        var kept = Assert.Single(host.StoredRecords("fingerprint", "set"));
        Assert.Equal(FingerprintReferences.SetKey(ItemKey.Create("acme", "bag-epc"), "first"), kept.Key);
        // The item still compares against its first registration.
        Assert.True((await registry.CompareAsync(ItemKey.Create("acme", "bag-epc"), [DevsetFixture.Extracted(fx.Probes[a][0])])).Match);
    }

    [Fact]
    public async Task Registration_refuses_probe_fingerprints_and_other_models_before_storing_anything()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        var a = fx.MatchableItem(0);
        var key = ItemKey.Create("acme", "bag-v");
        var metadata = new RegistrationMetadata { CapturedAt = CapturedAt };

        var probe = await Assert.ThrowsAsync<RegistryValidationException>(() =>
            registry.RegisterAsync(key, [DevsetFixture.Extracted(fx.Probes[a][0])], metadata, "r1"));
        Assert.Contains("enrolment", probe.Message);

        var foreign = fx.Enrolments[a].ToBytes();
        foreign[2] ^= 0x01;   // first character of the model id
        var other = await Assert.ThrowsAsync<RegistryValidationException>(() =>
            registry.RegisterAsync(key, [DevsetFixture.Extracted(fx.Enrolments[a]) with { Fingerprint = foreign }], metadata, "r2"));
        Assert.Contains("model", other.Message);

        var badEvent = await Assert.ThrowsAsync<InvalidCustodyEventException>(() =>
            registry.RegisterAsync(key, [DevsetFixture.Extracted(fx.Enrolments[a])], metadata with { CustodyEvent = Commissioning() with { BizStep = "teleporting" } }, "r3"));
        Assert.Equal("biz_step", badEvent.Field);

        await Assert.ThrowsAsync<RegistryValidationException>(() => registry.RegisterAsync(key, [], metadata, "r4"));
        await Assert.ThrowsAsync<RegistryValidationException>(() => registry.RegisterAsync(key, [DevsetFixture.Extracted(fx.Enrolments[a])], metadata, " "));

        Assert.False((await cluster.SiloGrains().GetItemGrain(key).GetItem()).Exists);
        Assert.Empty(host.StoredRecords("fingerprint"));
        Assert.Empty(host.StoredRecords("indexjournal"));
    }

    [Fact]
    public async Task Trace_finds_each_item_among_many_across_shards_and_shows_its_last_custody_event()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        var registered = fx.ItemIds.Take(16).ToArray();
        await Task.WhenAll(registered.Select(id => Register(registry, "acme", id, fx.Enrolments[id],
            metadata: new RegistrationMetadata { CapturedAt = CapturedAt, CustodyEvent = Commissioning() })));
        Assert.True(registered.Select(id => IndexSharding.ShardOf(id, IndexSharding.DefaultShardCount)).Distinct().Count() >= 3);

        var probed = 0;
        foreach (var id in registered)
        {
            var probe = fx.GenuineProbes(id).FirstOrDefault();
            if (probe is null) continue;
            probed++;
            var trace = await Trace(registry, "acme", probe);
            Assert.Equal(id, trace.Match?.CustomerItemId);
            Assert.Equal(fx.Matcher.Compare(fx.AsStored(probe), fx.AsStored(fx.Enrolments[id])).Score, trace.Match!.Score);
            Assert.Equal("commissioning", trace.Match.LastCustodyEvent?.BizStep);
            Assert.Equal(trace.Candidates.Select(c => c.Score).OrderDescending(), trace.Candidates.Select(c => c.Score));
            Assert.InRange(trace.Candidates.Length, 1, 5);
            Assert.Equal(trace.Candidates.Length, trace.Candidates.Select(c => c.CustomerItemId).Distinct().Count());
        }
        Assert.True(probed >= 8, $"only {probed} registered items have a matchable probe");

        // Items never registered: a match only where the 1:1 matcher itself accepts one of the registered items.
        foreach (var id in fx.ItemIds.Skip(16).Take(6))
        {
            foreach (var probe in fx.Probes.GetValueOrDefault(id, []).Take(1))
            {
                var trace = await Trace(registry, "acme", probe);
                var accepted = registered.Where(r => fx.Matcher.Compare(probe, fx.Enrolments[r]).IsMatch).ToList();
                if (accepted.Count == 0) Assert.Null(trace.Match);
                else Assert.Contains(trace.Match!.CustomerItemId, accepted);
            }
        }

        // Cost per query (warm: fingerprint sets cached in their activations).
        var warmProbe = fx.GenuineProbes(registered.First(i => fx.GenuineProbes(i).Any())).First();
        var clock = Stopwatch.StartNew();
        const int runs = 20;
        for (var i = 0; i < runs; i++) await Trace(registry, "acme", warmProbe);
        output.WriteLine($"trace over 16 items, 8 shards: {clock.Elapsed.TotalMilliseconds / runs:F2} ms per query (warm, one in-process Orleans silo: arguments copied, not serialized)");
    }

    [Fact]
    public async Task Trace_widens_past_the_shortlist_when_the_global_vector_ranks_the_item_lower()
    {
        await using var cluster = await StartAsync(new RegistryOptions { TraceShortlist = 1, TraceMaxCandidates = 100 });
        var registry = Registry(cluster);
        var registered = fx.ItemIds.Take(20).ToArray();
        await Task.WhenAll(registered.Select(id => Register(registry, "acme", id, fx.Enrolments[id])));

        static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y) => System.Numerics.Tensors.TensorPrimitives.Dot(x, y);
        var views = registered.ToDictionary(r => r, r => fx.Enrolments[r].SetGlobalVectors(fx.Model));
        var widened = 0;
        foreach (var id in registered)
        {
            foreach (var probe in fx.GenuineProbes(id))
            {
                // Where the true item is not the nearest by any of its indexed views, only widening can find it.
                var nearest = registered.MaxBy(r => views[r].Max(v => Dot(probe.GlobalVector, v)));
                if (nearest == id) continue;
                widened++;
                Assert.Equal(id, (await Trace(registry, "acme", probe)).Match?.CustomerItemId);
            }
        }
        Assert.True(widened > 0, "no probe whose item the global vector ranks below first: the test would not exercise widening");
        output.WriteLine($"{widened} probes needed widening");
    }

    [Fact]
    public async Task Tenants_never_see_each_others_items_in_a_trace()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        string a = fx.MatchableItem(0), b = fx.MatchableItem(1), c = fx.MatchableItem(2);
        await Register(registry, "acme", "bag-1", fx.Enrolments[a]);
        await Register(registry, "beta", "bag-1", fx.Enrolments[b]);
        await Register(registry, "beta", "bag-2", fx.Enrolments[c]);
        var probeA = fx.GenuineProbes(a).First();

        Assert.Equal("bag-1", (await Trace(registry, "acme", probeA)).Match?.CustomerItemId);

        // beta's candidates are beta's own fingerprints: the scores are those of a's probe against b and c.
        var beta = await Trace(registry, "beta", probeA);
        Assert.Null(beta.Match);
        Assert.Equal(
            new[] { ("bag-1", fx.Matcher.Compare(probeA, fx.Enrolments[b]).Score), ("bag-2", fx.Matcher.Compare(probeA, fx.Enrolments[c]).Score) }.OrderBy(x => x.Item1),
            beta.Candidates.Select(x => (x.CustomerItemId, (int)x.Score)).OrderBy(x => x.Item1));

        Assert.Empty((await Trace(registry, "gamma", probeA)).Candidates);
        Assert.True((await Compare(registry, "beta", "bag-1", fx.GenuineProbes(b).First())).Match);
        Assert.False((await Compare(registry, "beta", "bag-1", probeA)).Match);

        var shard = cluster.SiloGrains().GetGrain<IIndexShardGrain>(IndexSharding.ShardOf("bag-1", IndexSharding.DefaultShardCount));
        var hits = await shard.Search("beta", probeA.GlobalVectorArray(), 10);
        Assert.All(hits, h => Assert.StartsWith(FingerprintReferences.Prefix + "beta/", h.FingerprintReference));
        Assert.Equal(2, (await shard.GetStatus()).Tenants);
    }

    [Fact]
    public async Task Re_registration_replaces_the_indexed_vector_and_keeps_the_lineage()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        string a = fx.MatchableItem(0), b = fx.MatchableItem(1);
        await Register(registry, "acme", "bag-r", fx.Enrolments[a]);
        var second = await Register(registry, "acme", "bag-r", fx.Enrolments[b],
            metadata: new RegistrationMetadata { CapturedAt = CapturedAt, SupersedeReason = "repaired" });
        Assert.Equal((2, 1), (second.Registration.Number, second.Superseded));

        var view = await cluster.SiloGrains().GetItemGrain("acme", "bag-r").GetItem();
        Assert.Equal([1, 2], view.Lineage.Select(r => r.Number));
        Assert.Equal(("repaired", 2), (view.Lineage[0].SupersededReason, view.Lineage[0].SupersededBy));
        Assert.NotEqual(view.Lineage[0].FingerprintReference, view.Lineage[1].FingerprintReference);

        Fingerprint probeA = fx.GenuineProbes(a).First(), probeB = fx.GenuineProbes(b).First();
        Assert.True((await Compare(registry, "acme", "bag-r", probeB)).Match);
        Assert.False((await Compare(registry, "acme", "bag-r", probeA)).Match);
        Assert.Equal("bag-r", (await Trace(registry, "acme", probeB)).Match?.CustomerItemId);
        Assert.Null((await Trace(registry, "acme", probeA)).Match);

        // One vector for the item, now the second enrolment's.
        var shard = cluster.SiloGrains().GetGrain<IIndexShardGrain>(IndexSharding.ShardOf("bag-r", IndexSharding.DefaultShardCount));
        var hit = Assert.Single(await shard.Search("acme", fx.Enrolments[b].GlobalVectorArray(), 10));
        Assert.Equal(2, hit.RegistrationNumber);
        Assert.Equal(1f, hit.Similarity, 3);
        Assert.Equal(1, (await shard.GetStatus()).Items);

        // A late upsert of the older registration is ignored.
        await shard.Upsert(new IndexEntry { TenantId = "acme", CustomerItemId = "bag-r", RegistrationNumber = 1, GlobalVector = fx.Enrolments[a].GlobalVectorArray() });
        Assert.Equal(2, Assert.Single(await shard.Search("acme", fx.Enrolments[a].GlobalVectorArray(), 10)).RegistrationNumber);
    }

    [Fact]
    public async Task Remove_takes_the_item_out_of_traces_but_keeps_its_history()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        string a = fx.MatchableItem(0), b = fx.MatchableItem(1);
        await Register(registry, "acme", "bag-x", fx.Enrolments[a], requestId: "first");
        await Register(registry, "acme", "bag-y", fx.Enrolments[b]);
        var probe = fx.GenuineProbes(a).First();
        Assert.Equal("bag-x", (await Trace(registry, "acme", probe)).Match?.CustomerItemId);

        await registry.RemoveFromIndexAsync(ItemKey.Create("acme", "bag-x"));
        await registry.RemoveFromIndexAsync(ItemKey.Create("acme", "bag-x"));   // no-op
        var after = await Trace(registry, "acme", probe);
        Assert.Null(after.Match);
        Assert.DoesNotContain(after.Candidates, c => c.CustomerItemId == "bag-x");
        Assert.True((await Compare(registry, "acme", "bag-x", probe)).Match);   // history stays

        // A retry of the removed registration does not bring it back; a new registration does.
        await Register(registry, "acme", "bag-x", fx.Enrolments[a], requestId: "first");
        Assert.Null((await Trace(registry, "acme", probe)).Match);
        Assert.Equal(2, (await Register(registry, "acme", "bag-x", fx.Enrolments[a], requestId: "second")).Registration.Number);
        Assert.Equal("bag-x", (await Trace(registry, "acme", probe)).Match?.CustomerItemId);
    }

    [Fact]
    public async Task Register_is_idempotent_by_request_id_and_a_retry_resends_the_index_update()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        string a = fx.MatchableItem(0), b = fx.MatchableItem(1);
        var metadata = new RegistrationMetadata { DeviceId = "dev-1", CapturedAt = CapturedAt, CustodyEvent = Commissioning() };
        var first = await Register(registry, "acme", "bag-i", fx.Enrolments[a], "req-1", metadata);
        var shard = cluster.SiloGrains().GetGrain<IIndexShardGrain>(IndexSharding.ShardOf("bag-i", IndexSharding.DefaultShardCount));
        var sequence = (await shard.GetStatus()).Sequence;

        // Same request id, even with other images and metadata: the first answer, nothing added.
        var retry = await Register(registry, "acme", "bag-i", fx.Enrolments[b], "req-1", metadata with { DeviceId = "dev-2" });
        Assert.Equal(first.Registration.Number, retry.Registration.Number);
        Assert.Equal(first.Registration.RegisteredAt, retry.Registration.RegisteredAt);
        Assert.Equal("dev-1", retry.Registration.DeviceId);
        Assert.Equal(first.CustodyEvent!.EventId, retry.CustodyEvent!.EventId);
        var view = await cluster.SiloGrains().GetItemGrain("acme", "bag-i").GetItem();
        Assert.Single(view.Lineage);
        Assert.Single(view.Custody);
        Assert.Equal(sequence, (await shard.GetStatus()).Sequence);
        Assert.True((await Compare(registry, "acme", "bag-i", fx.GenuineProbes(a).First())).Match);

        // A first attempt that stopped after the lineage entry, before the index: the retry completes it.
        var key = ItemKey.Create("acme", "bag-j");
        var setKey = FingerprintReferences.SetKey(key, "req-2");
        Assert.True(await cluster.SiloGrains().GetGrain<IFingerprintSetGrain>(setKey).Store(new Orleans.Concurrency.Immutable<byte[][]>([fx.Enrolments[b].ToBytes()])));
        await cluster.SiloGrains().GetItemGrain(key).Register(new RegistrationRequest
        {
            ModelId = fx.Model.Id, ModelVersion = fx.Model.Version, CapturedAt = CapturedAt,
            FingerprintReference = FingerprintReferences.Format(setKey), RequestId = "req-2",
        });
        var probeB = fx.GenuineProbes(b).First();
        Assert.Null((await Trace(registry, "acme", probeB)).Match);
        var completed = await Register(registry, "acme", "bag-j", fx.Enrolments[b], "req-2");
        Assert.Equal(1, completed.Registration.Number);
        Assert.Equal("bag-j", (await Trace(registry, "acme", probeB)).Match?.CustomerItemId);
        Assert.Single((await cluster.SiloGrains().GetItemGrain(key).GetItem()).Lineage);
    }

    [Fact]
    public async Task A_restart_gives_identical_answers_from_snapshot_plus_journal_and_from_the_final_snapshot()
    {
        var options = new RegistryOptions { ShardCount = 2, SnapshotEveryUpdates = 3, SnapshotChunkBytes = 16 * 1024 };
        var items = fx.ItemIds.Take(10).ToArray();
        Answers before;
        IndexShardStatus[] statusBefore;
        string crashCopy;
        await using (var cluster = await StartAsync(options))
        {
            var registry = Registry(cluster);
            foreach (var id in items) await Register(registry, "acme", id, fx.Enrolments[id]);
            await Register(registry, "acme", items[0], fx.Enrolments[items[1]]);     // re-registration
            await registry.RemoveFromIndexAsync(ItemKey.Create("acme", items[2]));
            var shards = Enumerable.Range(0, 2).Select(s => cluster.SiloGrains().GetGrain<IIndexShardGrain>(s)).ToArray();
            var statuses = await WaitForSnapshotsAsync(shards);

            // Leave a journal tail shorter than the snapshot interval on every shard.
            foreach (var status in statuses.Where(s => s.Sequence == s.SnapshotSequence))
            {
                var id = fx.ItemIds.Skip(10).First(i => IndexSharding.ShardOf(i, 2) == status.Shard);
                await Register(registry, "acme", id, fx.Enrolments[id]);
            }
            statusBefore = await Task.WhenAll(shards.Select(s => s.GetStatus()));
            Assert.All(statusBefore, s => Assert.Equal(3L * s.Items, s.Vectors)); // upright + two steered views each
            Assert.All(statusBefore, s => Assert.InRange(s.Sequence - s.SnapshotSequence, 1, 2));
            Assert.All(statusBefore, s => Assert.True(s.SnapshotSequence >= 3));

            // Journal records the snapshots cover are gone; snapshots are chunked.
            var journal = host.StoredRecords("indexjournal");
            Assert.All(journal, r => Assert.True(SequenceOf(r.Key) > statusBefore[ShardOf(r.Key)].SnapshotSequence, r.Key));
            Assert.Equal(statusBefore.Sum(s => s.Sequence - s.SnapshotSequence), (long)journal.Count);
            var chunks = host.StoredRecords("indexsnapshot", "chunk");
            Assert.True(chunks.Count > 2 * 2, $"{chunks.Count} chunks");
            Assert.All(chunks, c => Assert.True(c.Bytes <= 16 * 1024));

            before = await AnswersAsync(cluster, items);
            crashCopy = host.CrashCopy("crash");
        }

        // Power loss: the copy taken while running has no final snapshot; the journal tail is replayed.
        await using (var cluster = await RegistryTestHost.StartAsync(crashCopy, options, fx.Model))
        {
            var after = await AnswersAsync(cluster, items);
            Assert.Equal(before.Traces, after.Traces);
            Assert.Equal(before.Hits, after.Hits);
            var statuses = await Task.WhenAll(Enumerable.Range(0, 2).Select(s => cluster.SiloGrains().GetGrain<IIndexShardGrain>(s).GetStatus()));
            Assert.Equal(statusBefore.Select(s => (s.Sequence, s.SnapshotSequence, s.Items, s.Vectors)), statuses.Select(s => (s.Sequence, s.SnapshotSequence, s.Items, s.Vectors)));
        }

        // Orderly stop: every shard wrote a final snapshot on deactivation and trimmed its journal.
        Assert.Empty(host.StoredRecords("indexjournal"));
        await using (var cluster = await StartAsync(options))
        {
            var after = await AnswersAsync(cluster, items);
            Assert.Equal(before.Traces, after.Traces);
            Assert.Equal(before.Hits, after.Hits);
            var statuses = await Task.WhenAll(Enumerable.Range(0, 2).Select(s => cluster.SiloGrains().GetGrain<IIndexShardGrain>(s).GetStatus()));
            Assert.All(statuses, s => Assert.Equal(s.Sequence, s.SnapshotSequence));
            Assert.Equal(statusBefore.Select(s => s.Sequence), statuses.Select(s => s.Sequence));
        }
    }

    [Fact]
    public async Task Sets_stored_in_the_earlier_layout_of_a_record_per_capture_plus_manifest_are_still_compared()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        string a = fx.MatchableItem(0), b = fx.MatchableItem(1);
        var captures = new[] { fx.Enrolments[a].ToBytes(), fx.Enrolments[b].ToBytes() };
        var storage = cluster.SiloServices().GetRecordStore();
        const string setKey = "acme/bag-old/0123456789abcdef0123456789abcdef";
        for (var i = 0; i < captures.Length; i++)
            await storage.WriteAsync(new RecordKey("fingerprint", $"{setKey}/{i}", "fingerprint"), captures[i], expectedETag: null);
        var manifest = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new { Sha256 = captures.Select(c => Convert.ToHexStringLower(SHA256.HashData(c))).ToArray() });
        await storage.WriteAsync(new RecordKey("fingerprint", setKey, "manifest"), manifest, expectedETag: null);

        var set = cluster.SiloGrains().GetGrain<IFingerprintSetGrain>(setKey);
        Assert.False(await set.Store(new Orleans.Concurrency.Immutable<byte[][]>([captures[0]]))); // the set exists: nothing is overwritten
        var probe = fx.GenuineProbes(b).First().ToBytes();
        var match = await set.Compare(new Orleans.Concurrency.Immutable<byte[][]>([probe]));
        Assert.Equal(1, match.BestCapture);
        Assert.True(match.Score >= fx.Model.OperatingThreshold);
        var views = await set.GetIndexVectors();
        Assert.Equal(3, views.Length); // upright + two steered sets, each the mean over the two captures
        Assert.All(views, v => Assert.Equal(fx.Model.GlobalVectorLength, v.Length));
        Assert.Empty(host.StoredRecords("fingerprint", "set"));
    }

    [Fact]
    public async Task A_damaged_fingerprint_record_is_refused_by_compare_and_skipped_by_trace()
    {
        await using var cluster = await StartAsync();
        var registry = Registry(cluster);
        string a = fx.MatchableItem(0), b = fx.MatchableItem(1);
        await Register(registry, "acme", "bag-1", fx.Enrolments[a]);
        await Register(registry, "acme", "bag-2", fx.Enrolments[b]);

        // Flip one byte of bag-1's stored capture (its set grain has not loaded it yet).
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={host.DatabasePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE grain_state SET data = substr(data, 1, 1000) || X'00' || substr(data, 1002) " +
                                  "WHERE grain_type = 'fingerprint' AND state_name = 'set' AND grain_key LIKE 'acme/bag-1/%'";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        var refused = await Assert.ThrowsAsync<RegistryConflictException>(() => Compare(registry, "acme", "bag-1", fx.GenuineProbes(a).First()));
        Assert.Contains("SHA-256", refused.Message);
        Assert.Equal("bag-2", (await Trace(registry, "acme", fx.GenuineProbes(b).First())).Match?.CustomerItemId);
        var trace = await Trace(registry, "acme", fx.GenuineProbes(a).First());
        Assert.Null(trace.Match);
        Assert.Equal("bag-2", Assert.Single(trace.Candidates).CustomerItemId);
    }

    [Fact]
    public async Task An_interrupted_journal_trim_is_finished_on_activation_and_covered_records_are_not_replayed()
    {
        var options = new RegistryOptions { ShardCount = 1 };
        var items = fx.ItemIds.Take(4).ToArray();
        Answers before;
        await using (var cluster = await StartAsync(options))
        {
            var registry = Registry(cluster);
            foreach (var id in items) await Register(registry, "acme", id, fx.Enrolments[id]);
            await Register(registry, "acme", items[0], fx.Enrolments[items[1]]);
            Sql("CREATE TABLE saved_journal AS SELECT * FROM grain_state WHERE grain_type = 'indexjournal'");
            var status = await cluster.SiloGrains().GetGrain<IIndexShardGrain>(0).WriteSnapshot();
            Assert.Equal((5L, 5L, 4), (status.Sequence, status.SnapshotSequence, status.Items));
            Assert.Empty(host.StoredRecords("indexjournal"));
            before = await AnswersAsync(cluster, items, shards: 1);
        }

        // As if the process died after writing the snapshot head but before deleting the journal it covers.
        Sql("INSERT INTO grain_state SELECT * FROM saved_journal");
        Assert.Equal(5, host.StoredRecords("indexjournal").Count);
        await using (var cluster = await StartAsync(options))
        {
            var status = await cluster.SiloGrains().GetGrain<IIndexShardGrain>(0).GetStatus();
            Assert.Equal((5L, 5L, 4), (status.Sequence, status.SnapshotSequence, status.Items));
            Assert.Empty(host.StoredRecords("indexjournal"));
            var after = await AnswersAsync(cluster, items, shards: 1);
            Assert.Equal(before.Traces, after.Traces);
            Assert.Equal(before.Hits, after.Hits);
        }
    }

    private void Sql(string statement)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={host.DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = statement;
        command.ExecuteNonQuery();
    }

    [Fact]
    public void Shard_of_an_item_is_a_stable_FNV1a_hash()
    {
        // FNV-1a values computed independently (Python) for these ids.
        Assert.Equal(1086420287u % 8, (uint)IndexSharding.ShardOf("bag-1", 8));
        Assert.Equal(2929265602u % 8, (uint)IndexSharding.ShardOf("item00000", 8));
        Assert.Equal(2699747486u % 16, (uint)IndexSharding.ShardOf("SKU-42:A", 16));
        Assert.Equal(3235235654u % 16, (uint)IndexSharding.ShardOf("ü-item", 16));
        Assert.Equal(0, IndexSharding.ShardOf("anything", 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => IndexSharding.ShardOf("x", 0));

        var counts = new int[8];
        for (var i = 0; i < 8000; i++) counts[IndexSharding.ShardOf($"item-{i:D5}", 8)]++;
        Assert.All(counts, c => Assert.InRange(c, 800, 1200));
    }

    [Fact]
    public async Task A_shard_refuses_items_of_another_shard_and_vectors_of_the_wrong_length()
    {
        await using var cluster = await StartAsync();
        var owner = IndexSharding.ShardOf("bag-1", IndexSharding.DefaultShardCount);
        var wrong = cluster.SiloGrains().GetGrain<IIndexShardGrain>((owner + 1) % IndexSharding.DefaultShardCount);
        var vector = fx.Enrolments[fx.ItemIds[0]].GlobalVectorArray();
        await Assert.ThrowsAsync<ArgumentException>(() => wrong.Upsert(new IndexEntry { TenantId = "acme", CustomerItemId = "bag-1", RegistrationNumber = 1, GlobalVector = vector }));
        var right = cluster.SiloGrains().GetGrain<IIndexShardGrain>(owner);
        await Assert.ThrowsAsync<RegistryValidationException>(() => right.Upsert(new IndexEntry { TenantId = "acme", CustomerItemId = "bag-1", RegistrationNumber = 1, GlobalVector = [1f, 0f] }));
        await Assert.ThrowsAsync<InvalidIdentifierException>(() => right.Search("bad/tenant", vector, 5));
        Assert.Equal(0, (await right.GetStatus()).Sequence);
    }

    [Fact]
    public async Task An_item_is_found_through_any_of_its_views_once_and_leaves_with_all_of_them()
    {
        await using var cluster = await StartAsync();
        var owner = IndexSharding.ShardOf("bag-1", IndexSharding.DefaultShardCount);
        var shard = cluster.SiloGrains().GetGrain<IIndexShardGrain>(owner);
        var sameShard = fx.ItemIds.Where(i => i != "bag-1" && IndexSharding.ShardOf(i, IndexSharding.DefaultShardCount) == owner).Take(2).ToArray();
        var views = fx.Enrolments[fx.ItemIds[0]].SetGlobalVectors(fx.Model);
        Assert.Equal(3, views.Length);
        await shard.Upsert(new IndexEntry { TenantId = "acme", CustomerItemId = "bag-1", RegistrationNumber = 1, GlobalVector = views[0], AdditionalVectors = views[1..] });
        foreach (var other in sameShard)
        {
            var otherViews = fx.Enrolments[other].SetGlobalVectors(fx.Model);
            await shard.Upsert(new IndexEntry { TenantId = "acme", CustomerItemId = other, RegistrationNumber = 1, GlobalVector = otherViews[0], AdditionalVectors = otherViews[1..] });
        }
        Assert.Equal(9, (await shard.GetStatus()).Vectors);

        // A query equal to a steered view finds its item first at similarity 1, and every item at most once.
        foreach (var view in views[1..])
        {
            var hits = await shard.Search("acme", view, 10);
            Assert.Equal("bag-1", hits[0].CustomerItemId);
            Assert.Equal(1f, hits[0].Similarity, 1e-4f);
            Assert.Equal(3, hits.Length);
            Assert.Equal(hits.Length, hits.Select(h => h.CustomerItemId).Distinct().Count());
        }
        Assert.Single(await shard.Search("acme", views[2], 1));

        await shard.Remove("acme", "bag-1");
        Assert.Equal(6, (await shard.GetStatus()).Vectors);
        Assert.DoesNotContain(await shard.Search("acme", views[2], 10), h => h.CustomerItemId == "bag-1");
        await Assert.ThrowsAsync<RegistryValidationException>(() => shard.Upsert(new IndexEntry
        {
            TenantId = "acme", CustomerItemId = "bag-1", RegistrationNumber = 2, GlobalVector = views[0],
            AdditionalVectors = [.. Enumerable.Repeat(views[1], IndexEntry.MaxAdditionalVectors + 1)],
        }));
        await Assert.ThrowsAsync<RegistryValidationException>(() => shard.Upsert(new IndexEntry
        {
            TenantId = "acme", CustomerItemId = "bag-1", RegistrationNumber = 2, GlobalVector = views[0], AdditionalVectors = [[1f, 0f]],
        }));
    }

    [Fact]
    public async Task A_search_does_not_wait_behind_an_update_whose_journal_write_is_slow()
    {
        var storage = new GatedStorage(new SqliteGrainStorage(new SqliteGrainStorageOptions { DatabasePath = host.DatabasePath }), "indexjournal");
        await using var cluster = await GatedCluster(storage, options: null).DeployAsync();
        var shardNumber = IndexSharding.ShardOf(fx.ItemIds[0], IndexSharding.DefaultShardCount);
        var shard = cluster.SiloGrains().GetGrain<IIndexShardGrain>(shardNumber);
        var second = fx.ItemIds.Skip(1).First(i => IndexSharding.ShardOf(i, IndexSharding.DefaultShardCount) == shardNumber);
        IndexEntry Entry(string id) => new() { TenantId = "acme", CustomerItemId = id, RegistrationNumber = 1, GlobalVector = fx.Enrolments[id].GlobalVectorArray() };
        await shard.Upsert(Entry(fx.ItemIds[0]));

        storage.Close();
        var update = shard.Upsert(Entry(second));
        await storage.Blocked.WaitAsync(TimeSpan.FromSeconds(10));   // the update's journal write is in progress
        var hits = await shard.Search("acme", fx.Enrolments[second].GlobalVectorArray(), 5).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([fx.ItemIds[0]], hits.Select(h => h.CustomerItemId));   // the index before the update
        Assert.Equal(1, (await shard.GetStatus().WaitAsync(TimeSpan.FromSeconds(10))).Sequence);
        Assert.False(update.IsCompleted);

        storage.Open();
        await update.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(second, (await shard.Search("acme", fx.Enrolments[second].GlobalVectorArray(), 1))[0].CustomerItemId);
    }

    [Fact]
    public async Task Updates_go_on_while_a_periodic_snapshot_is_being_stored_and_the_snapshot_then_covers_its_journal()
    {
        var options = new RegistryOptions { ShardCount = 1, SnapshotEveryUpdates = 3 };
        var storage = new GatedStorage(new SqliteGrainStorage(new SqliteGrainStorageOptions { DatabasePath = host.DatabasePath }), "indexsnapshot");
        var builder = GatedCluster(storage, options);
        var items = fx.ItemIds.Take(5).ToArray();
        IndexEntry Entry(string id) => new() { TenantId = "acme", CustomerItemId = id, RegistrationNumber = 1, GlobalVector = fx.Enrolments[id].GlobalVectorArray() };
        List<string> before;
        await using (var cluster = await builder.DeployAsync())
        {
            var shard = cluster.SiloGrains().GetGrain<IIndexShardGrain>(0);
            storage.Close();
            foreach (var id in items.Take(3)) await shard.Upsert(Entry(id));
            await storage.Blocked.WaitAsync(TimeSpan.FromSeconds(10));   // the third update started a snapshot; its chunks wait

            // Updates and searches are not held up by it.
            foreach (var id in items.Skip(3)) await shard.Upsert(Entry(id)).WaitAsync(TimeSpan.FromSeconds(10));
            var status = await shard.GetStatus();
            Assert.Equal((5L, 0L), (status.Sequence, status.SnapshotSequence));
            Assert.Equal(5, host.StoredRecords("indexjournal").Count);

            storage.Open();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while ((status = await shard.GetStatus()).SnapshotSequence == 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
            Assert.Equal((5L, 3L), (status.Sequence, status.SnapshotSequence));
            Assert.Equal([4L, 5L], host.StoredRecords("indexjournal").Select(r => SequenceOf(r.Key)).Order());
            before = await SearchAllAsync(shard);
            var crashCopy = host.CrashCopy("crash");

            // Power loss now: snapshot 3 plus journal 4-5 give the same index.
            await using var restarted = await RegistryTestHost.StartAsync(crashCopy, options, fx.Model);
            var again = restarted.SiloGrains().GetGrain<IIndexShardGrain>(0);
            Assert.Equal(before, await SearchAllAsync(again));
            Assert.Equal((5L, 3L), ((await again.GetStatus()).Sequence, (await again.GetStatus()).SnapshotSequence));
        }

        async Task<List<string>> SearchAllAsync(IIndexShardGrain shard)
        {
            var answers = new List<string>();
            foreach (var id in items)
                answers.Add(string.Join(",", (await shard.Search("acme", fx.Enrolments[id].GlobalVectorArray(), 5)).Select(h => $"{h.CustomerItemId}:{h.Similarity:R}")));
            Assert.All(items, id => Assert.Contains(answers, a => a.StartsWith(id + ":", StringComparison.Ordinal)));
            return answers;
        }
    }

    /// <summary>One silo whose default storage is <paramref name="storage"/> (a gated real SQLite file).</summary>
    private InProcessTestClusterBuilder GatedCluster(GatedStorage storage, RegistryOptions? options) =>
        EntrupyTestCluster.Builder(databasePath: null, silo =>
        {
            silo.Services.AddGrainStorage(StorageNames.Default, (_, _) => storage);
            silo.Services.AddSingleton(fx.Model);
            silo.AddRegistryGrains(options);
        });

    [Fact]
    public async Task Without_steered_views_an_item_has_one_vector_and_is_still_traced()
    {
        await using var cluster = await StartAsync(new RegistryOptions { IndexSteeredViews = false, ShardCount = 1 });
        var registry = Registry(cluster);
        var items = fx.ItemIds.Take(4).ToArray();
        foreach (var id in items) await Register(registry, "acme", id, fx.Enrolments[id]);
        var status = await cluster.SiloGrains().GetGrain<IIndexShardGrain>(0).GetStatus();
        Assert.Equal((4, 4L), (status.Items, status.Vectors));
        var probe = fx.GenuineProbes(items[2]).First();
        Assert.Equal(items[2], (await Trace(registry, "acme", probe)).Match?.CustomerItemId);
    }

    [Fact]
    public void Snapshots_of_the_single_vector_format_are_still_read()
    {
        var vector = fx.Enrolments[fx.ItemIds[0]].GlobalVectorArray();
        byte[] faiss;
        using (var flat = Entrupy.Native.Faiss.FaissIndex.Create(vector.Length, "Flat", Entrupy.Native.Faiss.FaissMetric.InnerProduct))
        {
            flat.Add(vector, [4L]);
            faiss = flat.Serialize();
        }
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer))
        {
            w.Write(0x53584945u);   // "EIXS"
            w.Write(1);             // format 1: one vector per item, no vector count
            w.Write(3);             // shard
            w.Write(9L);            // sequence
            w.Write(vector.Length);
            w.Write(1);             // tenants
            w.Write("acme");
            w.Write(1);             // items
            w.Write("bag-1");
            w.Write(4L);            // FAISS id
            w.Write(2);             // registration number
            w.Write(false);         // no fingerprint reference
            w.Write(0);             // removed
            w.Write(faiss.Length);
            w.Write(faiss);
        }
        var (index, sequence) = ShardIndex.Deserialize(buffer.ToArray(), 3, vector.Length);
        using (index)
        {
            Assert.Equal(9, sequence);
            Assert.Equal((1, 1L), (index.ItemCount, index.VectorCount));
            var hit = Assert.Single(index.Search("acme", vector, 5));
            Assert.Equal(("bag-1", 2), (hit.CustomerItemId, hit.RegistrationNumber));
            // Written back in the current format, it reads the same.
            var (again, _) = ShardIndex.Deserialize(index.Serialize(3, sequence), 3, vector.Length);
            using (again) Assert.Equal((1, 1L), (again.ItemCount, again.VectorCount));
        }
    }

    [Fact]
    public void Journal_records_of_the_single_vector_format_are_still_read()
    {
        var vector = fx.Enrolments[fx.ItemIds[0]].GlobalVectorArray();
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer))
        {
            w.Write((byte)1);
            w.Write(7L);
            w.Write((byte)JournalOperation.Upsert);
            w.Write("acme");
            w.Write("bag-1");
            w.Write(2);
            w.Write(false);
            w.Write(vector.Length);
            foreach (var v in vector) w.Write(v);
        }
        var old = JournalRecord.FromBytes(buffer.ToArray());
        Assert.Equal((7L, "bag-1", 2), (old.Sequence, old.CustomerItemId, old.RegistrationNumber));
        Assert.True(Assert.Single(old.Vectors!).SequenceEqual(vector));

        var views = fx.Enrolments[fx.ItemIds[0]].SetGlobalVectors(fx.Model);
        var current = JournalRecord.FromBytes(new JournalRecord(8, JournalOperation.Upsert, "acme", "bag-1", 3, "ref", views).ToBytes());
        Assert.Equal(views.Length, current.Vectors!.Length);
        for (var i = 0; i < views.Length; i++) Assert.True(views[i].SequenceEqual(current.Vectors[i]));
        var truncated = new JournalRecord(8, JournalOperation.Upsert, "acme", "bag-1", 3, "ref", views).ToBytes()[..^5];
        Assert.Throws<InvalidDataException>(() => JournalRecord.FromBytes(truncated));
    }

    private sealed record Answers(List<string> Traces, List<string> Hits);

    private async Task<Answers> AnswersAsync(InProcessTestCluster cluster, IEnumerable<string> items, int shards = 2)
    {
        var registry = Registry(cluster);
        var traces = new List<string>();
        var hits = new List<string>();
        foreach (var id in items)
        {
            foreach (var probe in fx.Probes.GetValueOrDefault(id, []))
            {
                var trace = await Trace(registry, "acme", probe, top: 3);
                traces.Add($"{trace.Match?.CustomerItemId}|{string.Join(",", trace.Candidates.Select(c => $"{c.CustomerItemId}:{c.Score}"))}");
                for (var shard = 0; shard < shards; shard++)
                {
                    var found = await cluster.SiloGrains().GetGrain<IIndexShardGrain>(shard).Search("acme", probe.GlobalVectorArray(), 5);
                    hits.Add(string.Join(",", found.Select(h => $"{h.CustomerItemId}#{h.RegistrationNumber}:{h.Similarity:R}")));
                }
            }
        }
        Assert.Contains(traces, t => !t.StartsWith('|'));   // something matched, so the comparison means something
        return new Answers(traces, hits);
    }

    private static async Task<IndexShardStatus[]> WaitForSnapshotsAsync(IIndexShardGrain[] shards)
    {
        // Snapshots run as a timer turn after the update that crossed the interval.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var statuses = await Task.WhenAll(shards.Select(s => s.GetStatus()));
            if (statuses.All(s => s.Sequence - s.SnapshotSequence < 3) || DateTime.UtcNow > deadline) return statuses;
            await Task.Delay(20);
        }
    }

    private static long SequenceOf(string journalKey) => long.Parse(journalKey[(journalKey.IndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    private static int ShardOf(string journalKey) => int.Parse(journalKey[..journalKey.IndexOf('/')], System.Globalization.CultureInfo.InvariantCulture);
}
