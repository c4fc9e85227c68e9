using System.Diagnostics;
using System.Text;
using Entrupy.Grains.Persistence.AzureStorage.Rest;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Grains.Persistence.AzureStorage.Tests;

/// <summary>Shared Key signing, error mapping, races between provider instances and the blob layout, on a real Azurite.</summary>
[Collection("azurite")]
public sealed class AzureBlobGrainStorageTests(AzuriteFixture azurite)
{
    private static readonly GrainStateKey Key = new("item", "key/with spaces & ünïcode", "state");

    [AzuriteFact]
    public async Task Signed_requests_are_accepted_and_a_record_round_trips()
    {
        using var storage = new AzureBlobGrainStorage(azurite.NewContainerOptions());
        var etag = await storage.WriteAsync(Key, "hello"u8.ToArray(), null);
        var record = await storage.ReadAsync(Key);
        Assert.NotNull(record);
        Assert.Equal(etag, record.ETag);
        Assert.Equal("hello", Encoding.UTF8.GetString(record.Data.Span));
    }

    [AzuriteFact]
    public async Task A_wrong_account_key_fails_at_once_with_a_clear_403()
    {
        var options = azurite.NewContainerOptions();
        var wrongKey = Convert.ToBase64String(Enumerable.Repeat((byte)7, 64).ToArray());
        options.ConnectionString = options.ConnectionString.Replace(StorageConnectionString.DevelopmentAccountKey, wrongKey, StringComparison.Ordinal);
        Assert.Contains(wrongKey, options.ConnectionString, StringComparison.Ordinal);
        using var storage = new AzureBlobGrainStorage(options);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<GrainStorageException>(() => storage.ReadAsync(Key));
        // Not retried like an outage: a signature problem does not pass by itself.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        // Azure says AuthenticationFailed, Azurite AuthorizationFailure; both with this message.
        Assert.Matches("HTTP 403 (AuthenticationFailed|AuthorizationFailure): Server failed to authenticate the request", error.Message);
        Assert.Contains("AccountKey", error.Message, StringComparison.Ordinal);
    }

    [AzuriteFact]
    public async Task Two_writers_with_the_same_etag_exactly_one_wins_and_the_other_gets_a_conflict()
    {
        // Two provider instances, as two silos would have, racing on one record over many rounds.
        var options = azurite.NewContainerOptions();
        using var silo1 = new AzureBlobGrainStorage(options);
        using var silo2 = new AzureBlobGrainStorage(options);
        var etag = await silo1.WriteAsync(Key, "v0"u8.ToArray(), null);
        for (var round = 1; round <= 10; round++)
        {
            var results = await Task.WhenAll(
                Attempt(silo1, $"silo1 round {round}", etag),
                Attempt(silo2, $"silo2 round {round}", etag));

            var winners = results.Where(r => r.ETag is not null).ToArray();
            var winner = Assert.Single(winners);
            var loser = Assert.Single(results, r => r.ETag is null);
            var conflict = Assert.IsType<InconsistentStateException>(loser.Failure);
            Assert.Equal(etag, conflict.ExpectedETag);
            Assert.Equal(Key, conflict.Key);

            var stored = await silo2.ReadAsync(Key);
            Assert.Equal(winner.ETag, stored!.ETag);
            Assert.Equal(winner.Text, Encoding.UTF8.GetString(stored.Data.Span));
            etag = winner.ETag!;
        }

        static async Task<(string Text, string? ETag, Exception? Failure)> Attempt(IGrainStorage storage, string text, string etag)
        {
            await Task.Yield();
            try
            {
                return (text, await storage.WriteAsync(Key, Encoding.UTF8.GetBytes(text), etag), null);
            }
            catch (Exception ex)
            {
                return (text, null, ex);
            }
        }
    }

    [AzuriteFact]
    public async Task Records_are_blobs_named_type_key_state_with_the_key_escaped()
    {
        var options = azurite.NewContainerOptions();
        using var storage = new AzureBlobGrainStorage(options);
        using var blobs = new AzureBlobSnapshotStore(options);
        var etag = await storage.WriteAsync(Key, "x"u8.ToArray(), null);

        var listed = Assert.Single(await blobs.ListAsync("item/"));
        Assert.Equal("item/key%2Fwith%20spaces%20%26%20%C3%BCn%C3%AFcode/state", listed.Name);
        Assert.Equal(AzureBlobGrainStorage.BlobNameOf(Key), listed.Name);
        Assert.Equal(etag, listed.ETag);
        Assert.Equal(1, listed.Length);
    }

    [AzuriteFact]
    public async Task A_container_deleted_behind_the_providers_back_is_created_again()
    {
        var options = azurite.NewContainerOptions();
        using var storage = new AzureBlobGrainStorage(options);
        using var other = new AzureBlobGrainStorage(options);
        var etag = await storage.WriteAsync(Key, "before"u8.ToArray(), null);
        Assert.True(await other.Container.DeleteContainerAsync(CancellationToken.None));

        Assert.Null(await storage.ReadAsync(Key));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteAsync(Key, "stale"u8.ToArray(), etag));
        var again = await storage.WriteAsync(Key, "after"u8.ToArray(), null);
        Assert.Equal("after", Encoding.UTF8.GetString((await storage.ReadAsync(Key))!.Data.Span));
        Assert.NotEqual(etag, again);
    }

    [Fact]
    public void Blob_names_stay_within_azure_limits_and_distinct()
    {
        var names = new[]
        {
            new GrainStateKey("t", "", "s"), new GrainStateKey("t", "%", "s"), new GrainStateKey("t", ".", "s"),
            new GrainStateKey("t", "..", "s"), new GrainStateKey("t", "%2E", "s"), new GrainStateKey("t", "a.", "s"),
            new GrainStateKey("t", "a%2E", "s"), new GrainStateKey("t", new string('k', 1024), "s"),
            new GrainStateKey("t", new string('k', 1025), "s"), new GrainStateKey(new string('t', 2000), "k", "s"),
        }.Select(AzureBlobGrainStorage.BlobNameOf).ToArray();

        Assert.Equal(names.Length, names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(names, n => Assert.InRange(n.Length, 1, AzureBlobGrainStorage.MaxBlobNameLength));
        Assert.All(names, n => Assert.Equal(3, n.Split('/').Length));
        Assert.All(names, n => Assert.False(n.EndsWith('.'), n));
    }

    [AzuriteFact]
    public async Task The_di_extension_registers_a_keyed_provider_that_works()
    {
        var options = azurite.NewContainerOptions();
        var services = new ServiceCollection();
        services.AddAzureBlobGrainStorage("azure", options.ConnectionString, options.ContainerName);
        await using var provider = services.BuildServiceProvider();

        var storage = provider.GetRequiredKeyedService<IGrainStorage>("azure");
        Assert.IsType<AzureBlobGrainStorage>(storage);
        var etag = await storage.WriteAsync(Key, "via DI"u8.ToArray(), null);
        Assert.Equal(etag, (await storage.ReadAsync(Key))!.ETag);
        Assert.NotNull(provider.GetService<IPersistentStateFactory>());
    }

    [Fact]
    public void The_di_extension_rejects_bad_settings_at_registration()
    {
        var services = new ServiceCollection();
        Assert.Throws<FormatException>(() => services.AddAzureBlobGrainStorage("a", "AccountName=x", "grains"));
        Assert.Throws<ArgumentException>(() => services.AddAzureBlobGrainStorage("b", "UseDevelopmentStorage=true", "Bad_Name"));
        Assert.Throws<ArgumentException>(() => services.AddAzureBlobGrainStorage("c", "", "grains"));
    }
}
