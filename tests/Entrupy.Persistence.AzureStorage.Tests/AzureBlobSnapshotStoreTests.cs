using System.Text;

namespace Entrupy.Grains.Persistence.AzureStorage.Tests;

/// <summary>The general blob store (index snapshots, outbox) on a real Azurite.</summary>
[Collection("azurite")]
public sealed class AzureBlobSnapshotStoreTests(AzuriteFixture azurite)
{
    [AzuriteFact]
    public async Task Put_get_list_and_delete_by_prefix()
    {
        using var store = new AzureBlobSnapshotStore(azurite.NewContainerOptions("snap"));
        Assert.Empty(await store.ListAsync("index/"));
        var names = new[] { "index/shard-2.snap", "index/shard-1.snap", "index/shard 10 ü+&.snap", "outbox/0001", "indexer/other" };
        var etags = new Dictionary<string, string>();
        foreach (var name in names) etags[name] = await store.PutAsync(name, Encoding.UTF8.GetBytes("content of " + name));

        var listed = await store.ListAsync("index/");
        Assert.Equal(new[] { "index/shard 10 ü+&.snap", "index/shard-1.snap", "index/shard-2.snap" }, listed.Select(i => i.Name));
        Assert.All(listed, i => Assert.Equal(etags[i.Name], i.ETag));
        Assert.All(listed, i => Assert.Equal(Encoding.UTF8.GetByteCount("content of " + i.Name), i.Length));
        Assert.All(listed, i => Assert.InRange(i.LastModified, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5)));
        Assert.Equal(names.Length, (await store.ListAsync("")).Count);

        var snapshot = await store.GetAsync("index/shard 10 ü+&.snap");
        Assert.NotNull(snapshot);
        Assert.Equal("content of index/shard 10 ü+&.snap", Encoding.UTF8.GetString(snapshot.Data.Span));
        Assert.Equal(etags["index/shard 10 ü+&.snap"], snapshot.ETag);

        Assert.True(await store.DeleteAsync("index/shard-1.snap"));
        Assert.False(await store.DeleteAsync("index/shard-1.snap"));
        Assert.Null(await store.GetAsync("index/shard-1.snap"));
        Assert.Equal(2, (await store.ListAsync("index/")).Count);
    }

    [AzuriteFact]
    public async Task Conditional_put_and_delete_honour_etags()
    {
        using var store = new AzureBlobSnapshotStore(azurite.NewContainerOptions("snap"));
        var first = await store.TryPutAsync("outbox/claim", "a"u8.ToArray(), null);
        Assert.NotNull(first);
        Assert.Null(await store.TryPutAsync("outbox/claim", "b"u8.ToArray(), null));
        var second = await store.TryPutAsync("outbox/claim", "c"u8.ToArray(), first);
        Assert.NotNull(second);
        Assert.Null(await store.TryPutAsync("outbox/claim", "d"u8.ToArray(), first));
        Assert.Equal("c", Encoding.UTF8.GetString((await store.GetAsync("outbox/claim"))!.Data.Span));

        Assert.False(await store.DeleteAsync("outbox/claim", first));
        Assert.NotNull(await store.GetAsync("outbox/claim"));
        Assert.True(await store.DeleteAsync("outbox/claim", second));
        Assert.Null(await store.GetAsync("outbox/claim"));
    }

    [Fact]
    public async Task Names_that_urls_would_fold_are_rejected()
    {
        using var store = new AzureBlobSnapshotStore(new AzureBlobStorageOptions { ConnectionString = "UseDevelopmentStorage=true" });
        foreach (var bad in new[] { "a/../b", "./a", "a//b", "a/", "/a" })
            await Assert.ThrowsAsync<ArgumentException>(() => store.GetAsync(bad));
    }
}
