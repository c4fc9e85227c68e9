using System.Text;
using System.Text.Json;
using Entrupy.Grains.Runtime.Persistence;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Grains.Persistence.Sqlite.Tests.Memory;

public sealed class ItemState
{
    public string Name { get; set; } = "";

    public int Scans { get; set; }

    public List<string> Tags { get; set; } = new();
}

public sealed record PositionalState(string Name, int Count);

/// <summary>IPersistentState over the factory the runtime uses, on the memory and the SQLite provider.</summary>
public sealed class PersistentStateTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly ServiceProvider _services;

    public PersistentStateTests()
    {
        var services = new ServiceCollection();
        services.AddMemoryGrainStorage();
        services.AddSqliteGrainStorage("sqlite", o => o.DatabasePath = _directory.File("state.db"));
        _services = services.BuildServiceProvider();
    }

    private IPersistentStateFactory Factory => _services.GetRequiredService<IPersistentStateFactory>();

    private IPersistentState<T> Create<T>(string grainKey, string? storageName = null, string stateName = "item")
        => (IPersistentState<T>)Factory.Create("item-grain", grainKey, typeof(T), new PersistentStateAttribute(stateName, storageName));

    [Theory]
    [InlineData(null)]
    [InlineData("sqlite")]
    public async Task Missing_record_reads_as_new_state_then_write_and_reread_round_trips(string? storageName)
    {
        var state = Create<ItemState>("item-1", storageName);
        await state.ReadStateAsync();
        Assert.False(state.RecordExists);
        Assert.Null(state.Etag);
        Assert.NotNull(state.State);
        Assert.Equal(0, state.State.Scans);

        state.State.Name = "bag ü";
        state.State.Scans = 3;
        state.State.Tags.Add("leather");
        await state.WriteStateAsync();
        Assert.True(state.RecordExists);
        Assert.NotNull(state.Etag);

        // A second activation of the same grain sees the same state and ETag.
        var reactivated = Create<ItemState>("item-1", storageName);
        await reactivated.ReadStateAsync();
        Assert.True(reactivated.RecordExists);
        Assert.Equal(state.Etag, reactivated.Etag);
        Assert.Equal("bag ü", reactivated.State.Name);
        Assert.Equal(3, reactivated.State.Scans);
        Assert.Equal(["leather"], reactivated.State.Tags);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("sqlite")]
    public async Task Stale_activation_cannot_overwrite_newer_state(string? storageName)
    {
        var first = Create<ItemState>("item-2", storageName);
        var second = Create<ItemState>("item-2", storageName);
        await first.ReadStateAsync();
        await second.ReadStateAsync();

        first.State.Scans = 1;
        await first.WriteStateAsync();

        second.State.Scans = 99;
        await Assert.ThrowsAsync<InconsistentStateException>(() => second.WriteStateAsync());
        await Assert.ThrowsAsync<InconsistentStateException>(() => second.ClearStateAsync());

        // After re-reading, the loser sees the winner's data and can write again.
        await second.ReadStateAsync();
        Assert.Equal(1, second.State.Scans);
        second.State.Scans = 2;
        await second.WriteStateAsync();
        await first.ReadStateAsync();
        Assert.Equal(2, first.State.Scans);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("sqlite")]
    public async Task Clear_resets_state_and_deletes_the_record(string? storageName)
    {
        var state = Create<ItemState>("item-3", storageName);
        await state.ReadStateAsync();
        state.State.Name = "temporary";
        await state.WriteStateAsync();

        await state.ClearStateAsync();
        Assert.False(state.RecordExists);
        Assert.Null(state.Etag);
        Assert.Equal("", state.State.Name);

        var fresh = Create<ItemState>("item-3", storageName);
        await fresh.ReadStateAsync();
        Assert.False(fresh.RecordExists);

        // The cleared state object can start over with an insert.
        state.State.Name = "again";
        await state.WriteStateAsync();
        await fresh.ReadStateAsync();
        Assert.Equal("again", fresh.State.Name);
    }

    [Fact]
    public async Task State_is_stored_as_web_default_json()
    {
        var state = Create<ItemState>("item-4");
        await state.ReadStateAsync();
        state.State.Name = "n";
        state.State.Scans = 7;
        await state.WriteStateAsync();

        var storage = _services.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default);
        var record = await storage.ReadAsync(new GrainStateKey("item-grain", "item-4", "item"));
        Assert.NotNull(record);
        Assert.Equal("""{"name":"n","scans":7,"tags":[]}""", Encoding.UTF8.GetString(record.Data.Span));
        Assert.Equal(state.Etag, record.ETag);
    }

    [Fact]
    public async Task State_names_and_providers_are_separate_records()
    {
        var memory = Create<ItemState>("item-5", stateName: "a");
        var otherName = Create<ItemState>("item-5", stateName: "b");
        var sqlite = Create<ItemState>("item-5", storageName: "sqlite", stateName: "a");
        foreach (var s in new[] { memory, otherName, sqlite }) await s.ReadStateAsync();
        memory.State.Scans = 1;
        otherName.State.Scans = 2;
        sqlite.State.Scans = 3;
        foreach (var s in new[] { memory, otherName, sqlite }) await s.WriteStateAsync();

        var check = new[] { Create<ItemState>("item-5", stateName: "a"), Create<ItemState>("item-5", stateName: "b"), Create<ItemState>("item-5", "sqlite", "a") };
        foreach (var s in check) await s.ReadStateAsync();
        Assert.Equal([1, 2, 3], check.Select(s => s.State.Scans));
    }

    [Fact]
    public async Task Undeserializable_stored_bytes_fail_with_a_clear_error()
    {
        var storage = _services.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default);
        await storage.WriteAsync(new GrainStateKey("item-grain", "broken", "item"), Encoding.UTF8.GetBytes("{not json"), null);

        var state = Create<ItemState>("broken");
        var error = await Assert.ThrowsAsync<GrainStorageException>(() => state.ReadStateAsync());
        Assert.Contains("item-grain/broken/item", error.Message);
        Assert.IsAssignableFrom<JsonException>(error.InnerException);
    }

    [Fact]
    public async Task Stored_json_null_reads_as_new_state()
    {
        var storage = _services.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default);
        var etag = await storage.WriteAsync(new GrainStateKey("item-grain", "null", "item"), Encoding.UTF8.GetBytes("null"), null);

        var state = Create<ItemState>("null");
        await state.ReadStateAsync();
        Assert.NotNull(state.State);
        Assert.True(state.RecordExists);
        Assert.Equal(etag, state.Etag);
    }

    [Fact]
    public void State_type_without_parameterless_constructor_is_rejected_clearly()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Create<PositionalState>("x"));
        Assert.Contains(nameof(PositionalState), error.Message);
        Assert.Contains("parameterless constructor", error.Message);
    }

    [Fact]
    public void Unknown_provider_name_is_rejected_clearly()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Create<ItemState>("x", storageName: "nope"));
        Assert.Contains("'nope'", error.Message);
    }

    [Fact]
    public async Task Value_type_and_collection_states_work()
    {
        var counter = Create<int>("counter");
        await counter.ReadStateAsync();
        Assert.Equal(0, counter.State);
        counter.State = 41;
        await counter.WriteStateAsync();

        var again = Create<int>("counter");
        await again.ReadStateAsync();
        Assert.Equal(41, again.State);

        var map = Create<Dictionary<string, double>>("map");
        await map.ReadStateAsync();
        map.State["x"] = 1.5;
        await map.WriteStateAsync();
        var mapAgain = Create<Dictionary<string, double>>("map");
        await mapAgain.ReadStateAsync();
        Assert.Equal(1.5, mapAgain.State["x"]);
    }

    [Fact]
    public async Task Serializer_options_can_be_replaced()
    {
        var services = new ServiceCollection();
        services.AddMemoryGrainStorage();
        services.AddGrainStatePersistence(o => o.SerializerOptions = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseUpper });
        await using var provider = services.BuildServiceProvider();
        var state = (IPersistentState<ItemState>)provider.GetRequiredService<IPersistentStateFactory>()
            .Create("g", "k", typeof(ItemState), new PersistentStateAttribute("s"));
        state.State.Scans = 5;
        await state.WriteStateAsync();

        var record = await provider.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default).ReadAsync(new GrainStateKey("g", "k", "s"));
        Assert.Contains("\"SCANS\":5", Encoding.UTF8.GetString(record!.Data.Span));
    }

    [Fact]
    public void Registering_one_name_twice_is_rejected()
    {
        var services = new ServiceCollection();
        services.AddMemoryGrainStorage("x");
        Assert.Throws<InvalidOperationException>(() => services.AddMemoryGrainStorage("x"));
    }

    public void Dispose()
    {
        _services.Dispose();
        _directory.Dispose();
    }
}
