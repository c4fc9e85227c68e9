using Entrupy.TestSupport;
using System.Text;
using Entrupy.Persistence.Sqlite;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;

namespace Entrupy.Storage.Tests;

public sealed class TaggedItem
{
    public string Name { get; set; } = "";

    public List<string> Tags { get; set; } = [];
}

[Alias("Entrupy.Storage.Tests.ITaggedItemGrain")]
public interface ITaggedItemGrain : IGrainWithStringKey
{
    [Alias("Tag")]
    Task<int> Tag(string tag);

    [Alias("Tags")]
    Task<string[]> Tags();

    [Alias("RecordExists")]
    Task<bool> RecordExists();

    [Alias("SetNote")]
    Task SetNote(string note);

    [Alias("Note")]
    Task<string> Note();

    [Alias("Clear")]
    Task Clear();
}

/// <summary>A grain with two persistent states on the default provider, as our grains declare them.</summary>
[GrainType(TypeName)]
public sealed class TaggedItemGrain(
    [PersistentState("item")] IPersistentState<TaggedItem> item,
    [PersistentState("note")] IPersistentState<TaggedItem> note) : Grain, ITaggedItemGrain
{
    public const string TypeName = "tagged-item";

    public async Task<int> Tag(string tag)
    {
        item.State.Tags.Add(tag);
        await item.WriteStateAsync();
        return item.State.Tags.Count;
    }

    public Task<string[]> Tags() => Task.FromResult(item.State.Tags.ToArray());

    public Task<bool> RecordExists() => Task.FromResult(item.RecordExists);

    public async Task SetNote(string text)
    {
        note.State.Name = text;
        await note.WriteStateAsync();
    }

    public Task<string> Note() => Task.FromResult(note.State.Name);

    public Task Clear() => item.ClearStateAsync();
}

[Alias("Entrupy.Storage.Tests.IMisconfiguredGrain")]
public interface IMisconfiguredGrain : IGrainWithStringKey
{
    [Alias("Ping")]
    Task<int> Ping();
}

/// <summary>Names a storage provider the silo does not have.</summary>
[GrainType("misconfigured")]
public sealed class MisconfiguredGrain([PersistentState("s", "no-such-provider")] IPersistentState<TaggedItem> state) : Grain, IMisconfiguredGrain
{
    public Task<int> Ping() => Task.FromResult(state.State.Tags.Count);
}

/// <summary>
/// [PersistentState] on Orleans with SqliteGrainStorage as the silo's default provider (what the old runtime's
/// persistent-state tests proved, re-proved on Orleans): state survives deactivation and a silo restart, is stored as
/// web JSON under (grain type, key, state name), clears, and a bad stored record or provider name fails clearly.
/// </summary>
public sealed class PersistentStateGrainTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private InProcessTestCluster? _cluster;

    private string DatabasePath => _directory.File("silo.db");

    private InProcessTestCluster Cluster => _cluster!;

    public async Task InitializeAsync() => _cluster = await TestSilo.DeploySqliteAsync(DatabasePath);

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
        _directory.Dispose();
    }

    /// <summary>Stops the silo (its provider commits and closes the file) and starts a new one on the same file.</summary>
    private async Task RestartSiloAsync()
    {
        await Cluster.DisposeAsync();
        _cluster = null;
        _cluster = await TestSilo.DeploySqliteAsync(DatabasePath);
    }

    private async Task DeactivateAsync(IAddressable grain)
    {
        await Cluster.DeactivateAsync(grain);
    }

    [Fact]
    public async Task The_default_provider_is_SqliteGrainStorage_on_the_file()
    {
        var storage = Assert.IsType<SqliteGrainStorage>(Cluster.Storage());
        Assert.Equal(Path.GetFullPath(DatabasePath), storage.DatabasePath);
        Assert.Same(storage, Cluster.Silos[0].ServiceProvider.GetRecordStore().Provider);
    }

    [Fact]
    public async Task A_new_grain_has_no_record_then_its_state_survives_deactivation_and_a_silo_restart()
    {
        var grain = Cluster.Client.GetGrain<ITaggedItemGrain>("item-1");
        Assert.False(await grain.RecordExists());
        Assert.Empty(await grain.Tags());

        Assert.Equal(1, await grain.Tag("leather"));
        Assert.Equal(2, await grain.Tag("ü-tag"));
        await DeactivateAsync(grain);
        Assert.True(await grain.RecordExists());
        Assert.Equal(["leather", "ü-tag"], await grain.Tags());

        await RestartSiloAsync();
        grain = Cluster.Client.GetGrain<ITaggedItemGrain>("item-1");
        Assert.True(await grain.RecordExists());
        Assert.Equal(["leather", "ü-tag"], await grain.Tags());
        Assert.Equal(3, await grain.Tag("after restart"));
    }

    [Fact]
    public async Task State_is_one_web_json_record_per_grain_and_state_name_with_the_activation_etag()
    {
        var grain = Cluster.Client.GetGrain<ITaggedItemGrain>("k/1");
        await grain.Tag("a");
        await grain.SetNote("n");

        var records = Cluster.Silos[0].ServiceProvider.GetRecordStore();
        var item = await records.ReadAsync(new RecordKey(TaggedItemGrain.TypeName, "k/1", "item"));
        var note = await records.ReadAsync(new RecordKey(TaggedItemGrain.TypeName, "k/1", "note"));
        Assert.Equal("""{"name":"","tags":["a"]}""", Encoding.UTF8.GetString(item!.Data.Span));
        Assert.Equal("""{"name":"n","tags":[]}""", Encoding.UTF8.GetString(note!.Data.Span));
        Assert.NotEqual(item.ETag, note.ETag);

        // The activation holds the stored ETag: a write behind its back makes its next write conflict, and the
        // failed activation is dropped, so the next call starts from what storage has.
        await records.WriteAsync(new RecordKey(TaggedItemGrain.TypeName, "k/1", "item"), """{"name":"","tags":["written elsewhere"]}"""u8.ToArray(), item.ETag);
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => grain.Tag("b"));
        Assert.Equal(["written elsewhere"], await grain.Tags());
        Assert.Equal(2, await grain.Tag("b"));
    }

    [Fact]
    public async Task Clear_deletes_the_record_and_resets_the_state()
    {
        var grain = Cluster.Client.GetGrain<ITaggedItemGrain>("item-3");
        await grain.Tag("temporary");
        await grain.Clear();
        Assert.False(await grain.RecordExists());
        Assert.Empty(await grain.Tags());
        Assert.Null(await Cluster.Silos[0].ServiceProvider.GetRecordStore().ReadAsync(new RecordKey(TaggedItemGrain.TypeName, "item-3", "item")));

        // The cleared state starts over with an insert, and that survives deactivation.
        Assert.Equal(1, await grain.Tag("again"));
        await DeactivateAsync(grain);
        Assert.Equal(["again"], await grain.Tags());
    }

    [Theory]
    [InlineData("{not json", "JsonException")]
    [InlineData("null", "JSON null")]
    public async Task A_record_that_does_not_deserialize_fails_activation_clearly(string stored, string expected)
    {
        var records = Cluster.Silos[0].ServiceProvider.GetRecordStore();
        await records.WriteAsync(new RecordKey(TaggedItemGrain.TypeName, "broken", "item"), Encoding.UTF8.GetBytes(stored), null);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => Cluster.Client.GetGrain<ITaggedItemGrain>("broken").Tags());
        Assert.Contains(expected, error.ToString());
    }

    [Fact]
    public async Task A_write_the_store_cannot_take_reaches_the_caller_as_OrleansException_around_StorageUnavailableException()
    {
        // A size cap makes SQLite fail the write exactly as a full disk would.
        await using var capped = await TestSilo.DeployAsync(silo => silo.Services.AddSqliteGrainStorage(StorageNames.Default, o =>
        {
            o.DatabasePath = _directory.File("capped.db");
            o.MaxDatabaseBytes = 256 * 1024;
        }));
        var grain = capped.Client.GetGrain<ITaggedItemGrain>("full");
        Assert.Equal(1, await grain.Tag("fits"));

        var error = await Assert.ThrowsAnyAsync<Exception>(() => grain.Tag(new string('x', 1024 * 1024)));
        // Orleans' state bridge wraps every provider failure but an ETag conflict, so the API must look inside.
        Assert.IsType<OrleansException>(error);
        Assert.IsType<StorageUnavailableException>(error.InnerException);

        // As on Azure, the activation keeps the change it could not store; a new activation reads what is stored.
        Assert.Equal(2, (await grain.Tags()).Length);
        await capped.DeactivateAsync(grain);
        Assert.Equal(["fits"], await grain.Tags());
    }

    [Fact]
    public async Task An_unknown_provider_name_fails_activation_naming_it()
    {
        // Orleans wraps it: "Failed to create an instance of grain type …" around the provider error.
        var error = await Assert.ThrowsAnyAsync<Exception>(() => Cluster.Client.GetGrain<IMisconfiguredGrain>("x").Ping());
        var cause = error;
        while (cause is not null and not BadProviderConfigException) cause = cause.InnerException;
        Assert.NotNull(cause);
        Assert.Contains("\"no-such-provider\"", cause.Message);
    }
}
