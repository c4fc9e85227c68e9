using Entrupy.TestSupport;
using System.Security.Cryptography;
using System.Text;
using static Entrupy.Registry.Tests.RegistryTestHost;

namespace Entrupy.Registry.Tests;

public sealed class ItemGrainTests : IDisposable
{
    private readonly RegistryTestHost host = new();

    public void Dispose() => host.Dispose();

    [Fact]
    public async Task A_custody_event_with_an_id_derived_from_the_request_is_recorded_once_when_retried()
    {
        await using var cluster = await host.StartAsync();
        var key = ItemKey.Create("acme", "bag-9");
        var item = cluster.SiloGrains().GetItemGrain(key);
        var id = CustodyEventIds.Derive(key, "custody:key-1");
        Assert.Equal(id, CustodyEventIds.Derive(key, "custody:key-1"));
        Assert.NotEqual(id, CustodyEventIds.Derive(key, "custody:key-2"));
        Assert.NotEqual(id, CustodyEventIds.Derive(ItemKey.Create("acme", "bag-10"), "custody:key-1"));
        Assert.True(Uri.TryCreate(id, UriKind.Absolute, out _));

        var request = Event("receiving", "in_progress", new DateTimeOffset(2026, 5, 1, 9, 0, 0, TimeSpan.FromHours(2))) with { EventId = id };
        var first = await item.AddCustodyEvent(request);
        var retried = await item.AddCustodyEvent(request);

        Assert.Equal(first, retried);
        Assert.Single((await item.GetItem()).Custody);
    }

    [Fact]
    public async Task Re_registration_keeps_lineage_and_marks_the_earlier_one_superseded()
    {
        await using var cluster = await host.StartAsync();
        var item = cluster.SiloGrains().GetItemGrain("acme", "bag-1");

        var empty = await item.GetItem();
        Assert.False(empty.Exists);
        Assert.Null(empty.CurrentRegistration);

        var first = await item.Register(Registration());
        var second = await item.Register(Registration(version: "2.2", reason: "repaired strap"));
        var third = await item.Register(Registration(version: "2.3"));

        var view = await item.GetItem();
        Assert.True(view.Exists);
        Assert.Equal([1, 2, 3], view.Lineage.Select(r => r.Number));
        Assert.Equal("repaired strap", view.Lineage[0].SupersededReason);
        Assert.Equal(2, view.Lineage[0].SupersededBy);
        Assert.NotNull(view.Lineage[0].SupersededAt);
        Assert.Equal("re-registered", view.Lineage[1].SupersededReason);
        Assert.Equal(3, view.Lineage[1].SupersededBy);
        Assert.False(view.Lineage[2].IsSuperseded);
        Assert.Equal(third.Number, view.CurrentRegistration!.Number);
        Assert.Equal("2.3", view.CurrentRegistration.ModelVersion);

        // Every capture detail survives the serializer round trip.
        var kept = view.Lineage[0];
        Assert.Equal(first.RegisteredAt, kept.RegisteredAt);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 250 }, kept.Fingerprint);
        Assert.Equal(0.91, kept.Quality["sharpness"]);
        Assert.Equal(("dev-7", "op-42", 3), (kept.DeviceId, kept.OperatorId, kept.CaptureCount));
        Assert.Equal(TimeSpan.FromHours(2), kept.CapturedAt.Offset);
        Assert.Equal("2.2", second.ModelVersion);
    }

    [Fact]
    public async Task Registration_rejects_missing_fingerprint_and_bad_fields()
    {
        await using var cluster = await host.StartAsync();
        var item = cluster.SiloGrains().GetItemGrain("acme", "bag-2");
        var none = await Assert.ThrowsAsync<RegistryValidationException>(() => item.Register(Registration() with { Fingerprint = null }));
        Assert.Contains("exactly one of fingerprint", none.Message);
        await Assert.ThrowsAsync<RegistryValidationException>(() => item.Register(Registration() with { FingerprintReference = "blob://x" }));
        await Assert.ThrowsAsync<RegistryValidationException>(() => item.Register(Registration() with { CaptureCount = 0 }));
        await Assert.ThrowsAsync<RegistryValidationException>(() => item.Register(Registration() with { ModelId = " " }));
        await Assert.ThrowsAsync<RegistryValidationException>(() => item.Register(Registration() with { Location = new string('x', 257) }));
        var epc = await Assert.ThrowsAsync<RegistryValidationException>(() => item.Register(Registration() with { Epc = "urn:epc:id:sgtin:1" }));
        Assert.Contains(EpcisIdentifiers.ItemEpcRule, epc.Message);
        Assert.False((await item.GetItem()).Exists);   // nothing half-applied
    }

    [Fact]
    public async Task Custody_events_form_a_hash_chain_and_keep_their_offsets()
    {
        await using var cluster = await host.StartAsync();
        var item = cluster.SiloGrains().GetItemGrain("acme", "bag-3");
        var plus2 = new DateTimeOffset(2026, 5, 1, 10, 0, 0, TimeSpan.FromHours(2));
        var minus6 = new DateTimeOffset(2026, 5, 3, 8, 30, 15, 123, TimeSpan.FromHours(-6));
        var nepal = new DateTimeOffset(2026, 5, 4, 9, 0, 0, new TimeSpan(5, 45, 0));

        var e0 = await item.AddCustodyEvent(Event("commissioning", "active", plus2, EpcisAction.Add));
        var e1 = await item.AddCustodyEvent(Event("https://ref.gs1.org/cbv/BizStep-shipping", "https://ref.gs1.org/cbv/Disp-in_transit", minus6));
        var e2 = await item.AddCustodyEvent(Event("receiving", "returned", nepal) with { EventId = "urn:uuid:6f1c2e8e-4c1b-4d7e-9a55-1b1e6c2a0f00" });

        Assert.Equal(CustodyChain.GenesisHash, e0.PreviousHash);
        Assert.Equal(e0.Hash, e1.PreviousHash);
        Assert.Equal(e1.Hash, e2.PreviousHash);
        Assert.Equal(3, new[] { e0.Hash, e1.Hash, e2.Hash }.Distinct().Count());
        Assert.Equal("shipping", e1.BizStep);
        Assert.Equal("in_transit", e1.Disposition);
        Assert.Equal(("+02:00", "-06:00", "+05:45"), (e0.EventTimeZoneOffset, e1.EventTimeZoneOffset, e2.EventTimeZoneOffset));
        Assert.StartsWith("urn:uuid:", e0.EventId);

        // The hash is SHA-256 over the documented canonical form, recomputed here independently of CustodyChain.
        var canonical = "{\"v\":1,\"item\":\"acme/bag-3\",\"sequence\":1,\"eventID\":\"" + e1.EventId + "\",\"action\":\"OBSERVE\"," +
            "\"bizStep\":\"shipping\",\"disposition\":\"in_transit\",\"readPoint\":\"urn:epc:id:sgln:0614141.07346.1234\"," +
            "\"bizLocation\":\"https://stores.example.com/loc/berlin-1\",\"eventTime\":\"2026-05-03T08:30:15.1230000-06:00\"," +
            "\"eventTimeZoneOffset\":\"-06:00\",\"recordTime\":\"" + e1.RecordTime.ToString("O") + "\",\"previousHash\":\"" + e0.Hash + "\"}";
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))), e1.Hash);

        // A retry with the same eventID is answered from the chain; a different event under that id is refused.
        var retry = await item.AddCustodyEvent(Event("receiving", "returned", nepal) with { EventId = e2.EventId });
        Assert.Equal(e2.Hash, retry.Hash);
        await Assert.ThrowsAsync<RegistryConflictException>(() => item.AddCustodyEvent(Event("receiving", "active", nepal) with { EventId = e2.EventId }));

        var listed = await item.ListCustodyEvents(1, 10);
        Assert.Equal([1, 2], listed.Select(e => e.Sequence));
        Assert.Equal(minus6, listed[0].EventTime);
        Assert.Equal(TimeSpan.FromHours(-6), listed[0].EventTime.Offset);
        Assert.Single(await item.ListCustodyEvents(0, 1));
        Assert.Empty(await item.ListCustodyEvents(3, 10));
        await Assert.ThrowsAsync<RegistryValidationException>(() => item.ListCustodyEvents(0, 0));
    }

    [Theory]
    [InlineData("returning", null, null, "biz_step")]
    [InlineData("shipping", "lost", null, "disposition")]
    [InlineData("shipping", null, "warehouse 5", "read_point")]
    public async Task Invalid_custody_events_are_rejected_quoting_the_rule(string bizStep, string? disposition, string? readPoint, string field)
    {
        await using var cluster = await host.StartAsync();
        var item = cluster.SiloGrains().GetItemGrain("acme", "bag-4");
        var request = Event(bizStep, disposition, DateTimeOffset.UtcNow) with { ReadPointId = readPoint };
        var ex = await Assert.ThrowsAsync<InvalidCustodyEventException>(() => item.AddCustodyEvent(request));
        Assert.Equal(field, ex.Field);
        Assert.Contains(ex.Rule, ex.Message);
        Assert.Contains(field switch { "biz_step" => "CBV 2.0 business step", "disposition" => "CBV 2.0 disposition", _ => "SGLN" }, ex.Rule);
        Assert.Empty((await item.GetItem()).Custody);
    }

    [Fact]
    public async Task A_grain_addressed_with_an_invalid_key_refuses_every_call()
    {
        await using var cluster = await host.StartAsync();
        var bad = cluster.SiloGrains().GetGrain<IItemGrain>("acme/.dot");
        var ex = await Assert.ThrowsAsync<InvalidIdentifierException>(() => bad.GetItem());
        Assert.Contains(ItemKey.CustomerItemIdRule, ex.Message);
        await Assert.ThrowsAsync<InvalidIdentifierException>(() => cluster.SiloGrains().GetGrain<IItemGrain>("bag-without-tenant").GetItem());
    }

    [Fact]
    public async Task Tenants_do_not_see_each_others_items()
    {
        await using var cluster = await host.StartAsync();
        await cluster.SiloGrains().GetItemGrain("acme", "shared-id").Register(Registration());
        var other = await cluster.SiloGrains().GetItemGrain("globex", "shared-id").GetItem();
        Assert.False(other.Exists);
        Assert.Empty(other.Lineage);
    }

    [Fact]
    public async Task Authentication_results_are_recorded_then_updated_with_a_reviewer_verdict()
    {
        await using var cluster = await host.StartAsync();
        var item = cluster.SiloGrains().GetItemGrain("acme", "bag-5");
        var recorded = await item.RecordAuthentication(new AuthenticationRequest
        {
            AuthenticationId = "auth-1", ModelId = "auth-model", ModelVersion = "7", Status = AuthenticationStatus.NeedsReview,
            Scores = new() { ["authentic"] = 0.55 },
        });
        Assert.Equal(AuthenticationStatus.NeedsReview, recorded.Status);
        var retry = await item.RecordAuthentication(new AuthenticationRequest { AuthenticationId = "auth-1", ModelId = "other" });
        Assert.Equal(("auth-1", "auth-model"), (retry.AuthenticationId, retry.ModelId));   // idempotent by id

        var updated = await item.UpdateAuthentication("auth-1", new AuthenticationUpdate
        {
            Status = AuthenticationStatus.NotAuthentic, Reviewer = "rev-9", Note = "stitching", Scores = new() { ["stitch"] = 0.1 },
        });
        Assert.Equal(AuthenticationStatus.NotAuthentic, updated.ReviewerVerdict!.Status);
        Assert.Equal(0.55, updated.Scores["authentic"]);
        Assert.Equal(0.1, updated.Scores["stitch"]);

        var view = await item.GetItem();
        Assert.Single(view.Authentications);
        Assert.Equal(AuthenticationStatus.NotAuthentic, view.LatestAuthentication!.Status);
        Assert.Equal("rev-9", view.LatestAuthentication.ReviewerVerdict!.Reviewer);
        await Assert.ThrowsAsync<RegistryNotFoundException>(() => item.UpdateAuthentication("nope", new AuthenticationUpdate()));
    }

    [Fact]
    public async Task Linking_a_temporary_item_references_it_from_the_permanent_one_and_freezes_it()
    {
        await using var cluster = await host.StartAsync();
        var temporary = cluster.SiloGrains().GetItemGrain("acme", "session:8f2a");
        var permanent = cluster.SiloGrains().GetItemGrain("acme", "SKU-991");
        await temporary.Register(Registration());
        var tempEvent = await temporary.AddCustodyEvent(Event("inspecting", "active", DateTimeOffset.UtcNow));

        var linked = await temporary.LinkTo("SKU-991", "customer assigned id");
        Assert.Equal("SKU-991", linked.LinkedTo!.CustomerItemId);
        Assert.Equal(linked.LinkedTo, (await temporary.LinkTo("SKU-991", "customer assigned id")).LinkedTo);   // idempotent

        var target = await permanent.GetItem();
        Assert.Equal("session:8f2a", Assert.Single(target.LinkedFrom).CustomerItemId);
        Assert.Empty(target.Lineage);   // referenced, not moved

        var frozen = await temporary.GetItem();   // the temporary item keeps its own lineage and verified chain
        Assert.Single(frozen.Lineage);
        Assert.Equal(tempEvent.Hash, Assert.Single(frozen.Custody).Hash);

        var ex = await Assert.ThrowsAsync<ItemLinkedException>(() => temporary.Register(Registration()));
        Assert.Equal("SKU-991", ex.LinkedTo);
        await Assert.ThrowsAsync<ItemLinkedException>(() => temporary.AddCustodyEvent(Event("shipping", null, DateTimeOffset.UtcNow)));
        await Assert.ThrowsAsync<RegistryConflictException>(() => temporary.LinkTo("SKU-992", null));
        await Assert.ThrowsAsync<RegistryConflictException>(() => permanent.LinkTo("SKU-993", null));   // one hop only
        await Assert.ThrowsAsync<RegistryValidationException>(() => permanent.LinkTo("SKU-991", null));
        await Assert.ThrowsAsync<InvalidIdentifierException>(() => temporary.LinkTo("bad id", null));
    }

    [Fact]
    public async Task Everything_survives_a_silo_restart_on_the_same_sqlite_file()
    {
        ItemView before;
        await using (var first = await host.StartAsync())
        {
            var item = first.SiloGrains().GetItemGrain("acme", "bag-6");
            await item.Register(Registration() with { Epc = "urn:epc:id:sgtin:0614141.107346.2017" });
            await item.Register(Registration(version: "3.0", reason: "repaired"));
            await item.AddCustodyEvent(Event("commissioning", "active", new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(9)), EpcisAction.Add));
            await item.AddCustodyEvent(Event("retail_selling", "retail_sold", new DateTimeOffset(2026, 2, 2, 3, 4, 5, TimeSpan.FromHours(-3.5))));
            await item.RecordAuthentication(new AuthenticationRequest { ModelId = "auth", Status = AuthenticationStatus.Authentic });
            await first.SiloGrains().GetItemGrain("acme", "tmp-1").LinkTo("bag-6", null);
            before = await item.GetItem();
        }

        await using var second = await host.StartAsync();
        var after = await second.SiloGrains().GetItemGrain("acme", "bag-6").GetItem();
        Assert.Equal("urn:epc:id:sgtin:0614141.107346.2017", after.Epc);
        Assert.Equal(before.Lineage.Select(r => (r.Number, r.ModelVersion, r.SupersededAt, r.SupersededReason)),
                     after.Lineage.Select(r => (r.Number, r.ModelVersion, r.SupersededAt, r.SupersededReason)));
        Assert.Equal(before.Custody.Select(e => (e.Hash, e.EventTime, e.EventTime.Offset, e.RecordTime)),
                     after.Custody.Select(e => (e.Hash, e.EventTime, e.EventTime.Offset, e.RecordTime)));
        Assert.Equal("-03:30", after.Custody[1].EventTimeZoneOffset);
        Assert.Equal(AuthenticationStatus.Authentic, after.LatestAuthentication!.Status);
        Assert.Equal("tmp-1", Assert.Single(after.LinkedFrom).CustomerItemId);
        Assert.Equal("bag-6", (await second.SiloGrains().GetItemGrain("acme", "tmp-1").GetItem()).LinkedTo!.CustomerItemId);

        // The restored chain continues from the stored head.
        var next = await second.SiloGrains().GetItemGrain("acme", "bag-6").AddCustodyEvent(Event("shipping", "in_transit", DateTimeOffset.UtcNow));
        Assert.Equal(after.Custody[^1].Hash, next.PreviousHash);
    }
}
