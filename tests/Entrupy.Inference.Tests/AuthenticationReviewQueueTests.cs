using Orleans;
using Entrupy.Storage;
using Orleans.Storage;
using Entrupy.Registry;
using Entrupy.TestSupport;
using Entrupy.Inference;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Inference.Tests;

/// <summary>The review queue grain and the job store in-process, against the real item grain (recovery paths HTTP cannot reach).</summary>
public sealed class AuthenticationReviewQueueTests
{
    private const string TenantId = "ten_00000000000000ab";

    private static Task<TestSilo> DeployAsync() =>
        TestSilo.StartAsync(s => s.AddMemoryGrainStorageAsDefault().Services.AddSingleton(TimeProvider.System));

    private static async Task<string> PendingAsync(IGrainFactory grains, string itemId) =>
        (await grains.GetItemGrain(TenantId, itemId).RecordAuthentication(new AuthenticationRequest { ModelId = "acme-leather", ModelVersion = "1.0.0" })).AuthenticationId;

    private static readonly AuthenticationUpdate Inconclusive = new() { Status = AuthenticationStatus.NeedsReview, Scores = new() { ["p_authentic"] = 0.5 } };

    [Fact]
    public async Task MarkingForReviewIsIdempotentAndKeepsTheModelScores()
    {
        await using var cluster = await DeployAsync();
        var grains = cluster.GrainFactory;
        var queue = grains.GetGrain<IReviewQueueGrain>(TenantId);
        var id = await PendingAsync(grains, "item-1");

        var first = await queue.MarkForReview("item-1", id, Inconclusive);
        var again = await queue.MarkForReview("item-1", id, Inconclusive);
        var resumed = await queue.MarkForReview("item-1", id, null);

        Assert.Equal(AuthenticationStatus.NeedsReview, first.Status);
        Assert.Equal(0.5, first.Scores["p_authentic"]);
        Assert.Equal(first.UpdatedAt, again.UpdatedAt); // not written twice
        Assert.Equal(first.UpdatedAt, resumed.UpdatedAt);
        var slice = await queue.List(0, 10);
        Assert.Single(slice.Entries);
        Assert.Null(slice.NextAfter);
        await Assert.ThrowsAsync<RegistryNotFoundException>(() => queue.MarkForReview("item-1", "no-such", Inconclusive));
    }

    [Fact]
    public async Task AReviewNeedsANeedsReviewAuthenticationAndHealsAStaleEntry()
    {
        await using var cluster = await DeployAsync();
        var grains = cluster.GrainFactory;
        var queue = grains.GetGrain<IReviewQueueGrain>(TenantId);
        var verdict = new AuthenticationUpdate { Status = AuthenticationStatus.Authentic, Reviewer = "expert-1", Note = "ok" };

        var decided = await PendingAsync(grains, "item-1");
        await queue.MarkForReview("item-1", decided, Inconclusive);
        var first = await queue.Review("item-1", decided, verdict);
        Assert.Equal(first.UpdatedAt, (await queue.Review("item-1", decided, verdict)).UpdatedAt); // a retry: not written again
        await Assert.ThrowsAsync<RegistryConflictException>(() => queue.Review("item-1", decided, verdict with { Note = "changed my mind" }));

        var pending = await PendingAsync(grains, "item-2");
        await Assert.ThrowsAsync<RegistryConflictException>(() => queue.Review("item-2", pending, verdict));
        await Assert.ThrowsAsync<RegistryNotFoundException>(() => queue.Review("item-2", "no-such", verdict));

        // As if the silo stopped after the item took a verdict but before the queue dropped the entry: the reviewer's
        // retry gets the stored result, another reviewer a conflict, and either way the stale entry goes.
        foreach (var (itemId, next) in new[] { ("item-3", verdict), ("item-4", verdict with { Reviewer = "expert-2" }) })
        {
            var queued = await PendingAsync(grains, itemId);
            await queue.MarkForReview(itemId, queued, Inconclusive);
            var stored = await grains.GetItemGrain(TenantId, itemId).UpdateAuthentication(queued, verdict);
            Assert.Single((await queue.List(0, 10)).Entries);
            if (next == verdict) Assert.Equal(stored.UpdatedAt, (await queue.Review(itemId, queued, next)).UpdatedAt);
            else await Assert.ThrowsAsync<RegistryConflictException>(() => queue.Review(itemId, queued, next));
            Assert.Empty((await queue.List(0, 10)).Entries);
        }
    }

    [Fact]
    public async Task ConcurrentReviewsOfOneAuthenticationLetExactlyOneWin()
    {
        await using var cluster = await DeployAsync();
        var grains = cluster.GrainFactory;
        var queue = grains.GetGrain<IReviewQueueGrain>(TenantId);
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var id = await PendingAsync(grains, $"item-p{i}");
            await queue.MarkForReview($"item-p{i}", id, Inconclusive);
            ids.Add(id);
        }

        // Pages follow the queue order whatever was removed in between.
        var page = await queue.List(0, 2);
        Assert.Equal(["item-p0", "item-p1"], page.Entries.Select(e => e.CustomerItemId));
        var rest = await queue.List(page.NextAfter!.Value, 10);
        Assert.Equal(["item-p2", "item-p3", "item-p4"], rest.Entries.Select(e => e.CustomerItemId));

        var attempts = await Task.WhenAll(Enumerable.Range(0, 6).Select(async r =>
        {
            try
            {
                return await queue.Review("item-p1", ids[1], new AuthenticationUpdate
                {
                    Status = r % 2 == 0 ? AuthenticationStatus.Authentic : AuthenticationStatus.NotAuthentic,
                    Reviewer = $"expert-{r}",
                });
            }
            catch (RegistryConflictException)
            {
                return null;
            }
        }));
        var winners = attempts.Where(a => a is not null).ToArray();
        Assert.Single(winners);
        var winner = winners[0]!;
        var stored = (await grains.GetItemGrain(TenantId, "item-p1").GetItem()).Authentications.Single(a => a.AuthenticationId == ids[1]);
        Assert.Equal(winner.ReviewerVerdict!.Reviewer, stored.ReviewerVerdict!.Reviewer);
        Assert.Equal(winner.Status, stored.Status);
        Assert.Equal(["item-p0", "item-p2", "item-p3", "item-p4"], (await queue.List(0, 10)).Entries.Select(e => e.CustomerItemId));
        Assert.Equal(["item-p2", "item-p3", "item-p4"], (await queue.List(page.NextAfter!.Value, 10)).Entries.Select(e => e.CustomerItemId));
    }

    [Fact]
    public async Task JobCapturesRoundTripThroughTheGrainStoreAndAreDeleted()
    {
        await using var cluster = await DeployAsync();
        var payloads = NewPayloadStore(cluster.Services);
        byte[][] images = [[1, 2, 3], [], [.. Enumerable.Range(0, 5000).Select(i => (byte)i)]];

        await payloads.WriteAsync("t/i/a", images, CancellationToken.None);
        await payloads.WriteAsync("t/i/a", images, CancellationToken.None); // an interrupted submission's retry overwrites
        var read = await payloads.ReadAsync("t/i/a", CancellationToken.None);
        Assert.Equal(images.Length, read!.Length);
        for (var i = 0; i < images.Length; i++) Assert.Equal(images[i], read[i]);

        await payloads.DeleteAsync("t/i/a", CancellationToken.None);
        await payloads.DeleteAsync("t/i/a", CancellationToken.None);
        Assert.Null(await payloads.ReadAsync("t/i/a", CancellationToken.None));

        var encoded = AuthenticationJobPayloads.Encode(images);
        Assert.Throws<GrainStorageException>(() => AuthenticationJobPayloads.Decode(encoded.AsSpan(0, encoded.Length - 1), "t/i/a"));
        Assert.Throws<GrainStorageException>(() => AuthenticationJobPayloads.Decode("not a payload"u8, "t/i/a"));
    }

    private static AuthenticationJobPayloads NewPayloadStore(IServiceProvider services) =>
        new(services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Default));
}
