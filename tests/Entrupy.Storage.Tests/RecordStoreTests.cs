using Entrupy.TestSupport;
using Entrupy.Persistence.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace Entrupy.Storage.Tests;

/// <summary>RecordStore beyond the kit (which runs its ETag rules on every provider): finding it, and its rules on a real file.</summary>
public sealed class RecordStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task GetRecordStore_finds_the_named_provider_and_names_a_missing_one()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IGrainStorageSerializer, EntrupyGrainStateSerializer>();
        services.AddSqliteGrainStorageAsDefault(_directory.File("a.db"));
        await using var provider = services.BuildServiceProvider();

        var records = provider.GetRecordStore();
        Assert.IsType<SqliteGrainStorage>(records.Provider);
        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRecordStore("archive"));
        Assert.Contains("'archive'", error.Message);
    }

    [Fact]
    public async Task Records_and_grain_state_share_the_store_without_colliding_and_survive_reopening()
    {
        var path = _directory.File("b.db");
        string etag;
        await using (var storage = new SqliteGrainStorage(new SqliteGrainStorageOptions { DatabasePath = path }))
        {
            var records = new RecordStore(storage);
            etag = await records.WriteAsync(new RecordKey("journal", "t/000000000001", "entry"), "{\"a\":1}"u8.ToArray(), null);
            // Same key and name under another type: another record.
            await records.WriteAsync(new RecordKey("snapshot-chunk", "t/000000000001", "entry"), new byte[] { 1, 2, 3 }, null);
        }

        await using (var storage = new SqliteGrainStorage(new SqliteGrainStorageOptions { DatabasePath = path }))
        {
            var records = new RecordStore(storage);
            var journal = await records.ReadAsync(new RecordKey("journal", "t/000000000001", "entry"));
            Assert.Equal(etag, journal!.ETag);
            Assert.Equal("{\"a\":1}"u8.ToArray(), journal.Data.ToArray());
            Assert.Equal(new byte[] { 1, 2, 3 }, (await records.ReadAsync(new RecordKey("snapshot-chunk", "t/000000000001", "entry")))!.Data.ToArray());
        }
    }

    public void Dispose() => _directory.Dispose();
}
