using System.Security.Cryptography;
using System.Text;
using Entrupy.Storage;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Persistence.Conformance;

/// <summary>The grain state the kit stores (JSON through <see cref="EntrupyGrainStateSerializer"/>).</summary>
public sealed class ConformanceState
{
    public string Text { get; set; } = "";

    public int Number { get; set; }

    public List<string> Items { get; set; } = [];
}

/// <summary>An <see cref="IGrainState{T}"/> whose state is never null (Orleans' GrainState allows null).</summary>
public sealed class StateSlot<T>(T state) : IGrainState<T>
{
    public T State { get; set; } = state;

    // A provider that hands back null state (instead of a fresh object) fails the fact that made it do so.
    T? IGrainState<T>.State
    {
        get => State;
        set => State = value ?? throw new InvalidOperationException("The provider set the grain state to null.");
    }

    public string? ETag { get; set; }

    public bool RecordExists { get; set; }
}

/// <summary>
/// The rules of Orleans' <see cref="IGrainStorage"/> that our grains and <see cref="RecordStore"/> rely on, as one
/// abstract xunit class in the manner of Orleans' GrainStorageTestRunner: a provider's test project derives from it,
/// implements <see cref="CreateStorageAsync"/>, and xunit runs every fact here against that provider. Where providers
/// legitimately differ, a virtual property says which way a provider goes; the assertion itself is never weakened.
/// xunit creates a new instance per test, and each instance files its records under a grain type of its own, so
/// providers over a shared store (one silo, one Azurite container) never see another test's records.
/// </summary>
public abstract class GrainStorageConformanceTests : IAsyncLifetime
{
    private readonly List<IGrainStorage> _created = [];
    private readonly string _grainType = "conformance-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>A provider over this test's backing store (the same store every time it is called in one test).</summary>
    protected abstract Task<IGrainStorage> CreateStorageAsync();

    /// <summary>Whether written data must survive <see cref="ReopenStorageAsync"/> (false: an in-memory provider).</summary>
    protected virtual bool IsDurable => true;

    /// <summary>
    /// Whether a write or clear with a non-null ETag of a record that was never written is a conflict. Orleans' memory
    /// provider accepts it on purpose (its state lives in a grain that a silo crash can lose); a durable store rejects it.
    /// </summary>
    protected virtual bool RejectsETagOfMissingRecord => true;

    /// <summary>
    /// Whether clearing, with its last ETag, a record that was cleared already is a conflict (our SQLite provider, and
    /// Orleans' memory provider, which remembers the clear) or succeeds (a provider that deletes "if it exists").
    /// <see cref="RecordStore.ClearAsync"/> makes both succeed for raw records.
    /// </summary>
    protected virtual bool RejectsETagOfClearedRecord => true;

    /// <summary>
    /// Whether clearing an existing record with a null ETag is a conflict (our SQLite provider and Orleans' memory
    /// provider) or deletes it unconditionally (a provider that sends no condition when it has no ETag).
    /// </summary>
    protected virtual bool ClearWithNullETagOfExistingRecordConflicts => true;

    /// <summary>
    /// Whether (state "a-b", grain type T) and (state "a", grain type "b-T") are separate records. Orleans' Azure Blob
    /// provider names a blob "{state}-{grain id}.json", so the two share one blob; our record types and state names
    /// must not be built so that this can happen there.
    /// </summary>
    protected virtual bool SeparatesStateNameFromGrainType => true;

    /// <summary>Length of the longest grain key the unusual-keys fact writes (a blob name, for example, is at most 1024 characters).</summary>
    protected virtual int LongKeyLength => 1024;

    /// <summary>Whether the kit disposes the providers it created (false when they belong to a silo that the fixture owns).</summary>
    protected virtual bool DisposesStorage => true;

    /// <summary>How many writers the concurrency facts run at once.</summary>
    protected virtual int ConcurrentWriters => 32;

    /// <summary>How many grains the parallel fact writes.</summary>
    protected virtual int ParallelGrains => 200;

    /// <summary>
    /// Closes <paramref name="storage"/> (flushing what it buffers) and opens a new provider on the same backing store.
    /// The default disposes it and calls <see cref="CreateStorageAsync"/> again.
    /// </summary>
    protected virtual async Task<IGrainStorage> ReopenStorageAsync(IGrainStorage storage)
    {
        if (DisposesStorage) await DisposeStorageAsync(storage);
        _created.Remove(storage);
        return await TrackedCreateAsync();
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Disposes every provider this test created; override to also delete the backing store (call the base first).</summary>
    public virtual async Task DisposeAsync()
    {
        if (DisposesStorage)
        {
            foreach (var storage in _created) await DisposeStorageAsync(storage);
        }
        _created.Clear();
    }

    /// <summary>A grain id unique to this test.</summary>
    protected GrainId Grain(string key = "grain-1") => GrainId.Create(_grainType, key);

    /// <summary>A raw record key unique to this test.</summary>
    protected RecordKey Record(string key = "record-1", string name = "entry") => new(_grainType + "-records", key, name);

    private const string StateName = "state";

    [Fact]
    public async Task Read_of_missing_state_reports_no_record_no_etag_and_a_fresh_state()
    {
        var storage = await TrackedCreateAsync();
        // Stale values on the state object must not survive a read of nothing.
        var state = new StateSlot<ConformanceState>(new ConformanceState { Text = "left over", Number = 9 }) { ETag = "stale", RecordExists = true };
        await storage.ReadStateAsync(StateName, Grain("never-written"), state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.NotNull(state.State);
        Assert.Equal("", state.State.Text);
        Assert.Equal(0, state.State.Number);
        Assert.Empty(state.State.Items);
    }

    [Fact]
    public async Task Insert_then_read_back_equal_with_the_same_etag()
    {
        var storage = await TrackedCreateAsync();
        var written = New("first ü キー", 7, "a", "b");
        await storage.WriteStateAsync(StateName, Grain(), written);

        Assert.True(written.RecordExists);
        Assert.False(string.IsNullOrEmpty(written.ETag));
        var read = await ReadAsync(storage, Grain());
        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        AssertSame(written.State, read.State);
    }

    [Fact]
    public async Task Update_with_the_current_etag_replaces_the_state_and_changes_the_etag()
    {
        var storage = await TrackedCreateAsync();
        var state = New("v1", 1);
        await storage.WriteStateAsync(StateName, Grain(), state);
        var etags = new List<string> { state.ETag! };
        for (var v = 2; v <= 3; v++)
        {
            state.State.Text = $"v{v}";
            state.State.Number = v;
            await storage.WriteStateAsync(StateName, Grain(), state);
            etags.Add(state.ETag!);
        }

        Assert.Equal(3, etags.Distinct().Count());
        var read = await ReadAsync(storage, Grain());
        Assert.Equal(etags[^1], read.ETag);
        Assert.Equal("v3", read.State.Text);

        // A second reader's current ETag works as well as the writer's own.
        read.State.Text = "v4 from a reader";
        await storage.WriteStateAsync(StateName, Grain(), read);
        Assert.Equal("v4 from a reader", (await ReadAsync(storage, Grain())).State.Text);
    }

    [Fact]
    public async Task Write_with_a_stale_etag_throws_and_changes_nothing()
    {
        var storage = await TrackedCreateAsync();
        var state = New("v1", 1);
        await storage.WriteStateAsync(StateName, Grain(), state);
        var stale = state.ETag;
        state.State.Text = "v2";
        await storage.WriteStateAsync(StateName, Grain(), state);
        var current = state.ETag;

        var loser = New("lost update", 99);
        loser.ETag = stale;
        loser.RecordExists = true;
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, Grain(), loser));

        var read = await ReadAsync(storage, Grain());
        Assert.Equal(current, read.ETag);
        Assert.Equal("v2", read.State.Text);
    }

    [Fact]
    public async Task Write_with_a_null_etag_over_an_existing_record_throws_and_changes_nothing()
    {
        var storage = await TrackedCreateAsync();
        var original = New("original", 1);
        await storage.WriteStateAsync(StateName, Grain(), original);

        var intruder = New("intruder", 2);
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, Grain(), intruder));

        var read = await ReadAsync(storage, Grain());
        Assert.Equal(original.ETag, read.ETag);
        Assert.Equal("original", read.State.Text);
    }

    [Fact]
    public async Task Write_with_an_etag_of_a_missing_record_follows_the_provider_rule()
    {
        var storage = await TrackedCreateAsync();
        var other = New("other", 1);
        await storage.WriteStateAsync(StateName, Grain("other"), other);

        var ghost = New("ghost", 2);
        ghost.ETag = other.ETag;
        ghost.RecordExists = true;
        if (RejectsETagOfMissingRecord)
        {
            await Assert.ThrowsAnyAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, Grain("missing"), ghost));
            Assert.False((await ReadAsync(storage, Grain("missing"))).RecordExists);
            await Assert.ThrowsAnyAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, Grain("missing"), ghost));
        }
        else
        {
            var blind = New("", 0);
            blind.ETag = other.ETag;
            blind.RecordExists = true;
            await storage.ClearStateAsync(StateName, Grain("missing-too"), blind);
            await storage.WriteStateAsync(StateName, Grain("missing"), ghost);
            Assert.Equal("ghost", (await ReadAsync(storage, Grain("missing"))).State.Text);
        }
    }

    [Fact]
    public async Task Clear_makes_the_record_missing_and_a_null_etag_write_inserts_again()
    {
        var storage = await TrackedCreateAsync();
        var state = New("doomed", 1, "x");
        await storage.WriteStateAsync(StateName, Grain(), state);
        var before = state.ETag;

        await storage.ClearStateAsync(StateName, Grain(), state);
        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);

        var read = await ReadAsync(storage, Grain());
        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);
        Assert.Equal("", read.State.Text);

        // The cleared state object (ETag null) starts over with an insert; its ETag is not the one from before.
        state.State = new ConformanceState { Text = "reborn", Number = 2 };
        await storage.WriteStateAsync(StateName, Grain(), state);
        Assert.NotEqual(before, state.ETag);
        var again = await ReadAsync(storage, Grain());
        Assert.Equal(state.ETag, again.ETag);
        Assert.Equal("reborn", again.State.Text);

        // An ETag from before the clear does not match the reinserted record (no ABA lost update).
        var zombie = New("zombie", 3);
        zombie.ETag = before;
        zombie.RecordExists = true;
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, Grain(), zombie));
        Assert.Equal("reborn", (await ReadAsync(storage, Grain())).State.Text);
    }

    [Fact]
    public async Task Clear_with_a_stale_etag_throws_and_keeps_the_record()
    {
        var storage = await TrackedCreateAsync();
        var state = New("v1", 1);
        await storage.WriteStateAsync(StateName, Grain(), state);
        var stale = New("", 0);
        stale.ETag = state.ETag;
        stale.RecordExists = true;
        state.State.Text = "v2";
        await storage.WriteStateAsync(StateName, Grain(), state);

        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, Grain(), stale));
        var read = await ReadAsync(storage, Grain());
        Assert.Equal(state.ETag, read.ETag);
        Assert.Equal("v2", read.State.Text);
    }

    [Fact]
    public async Task Clear_with_a_null_etag_of_an_existing_record_follows_the_provider_rule()
    {
        var storage = await TrackedCreateAsync();
        var state = New("kept?", 1);
        await storage.WriteStateAsync(StateName, Grain(), state);

        var blind = New("", 0);
        if (ClearWithNullETagOfExistingRecordConflicts)
        {
            await Assert.ThrowsAnyAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, Grain(), blind));
            Assert.Equal(state.ETag, (await ReadAsync(storage, Grain())).ETag);
        }
        else
        {
            await storage.ClearStateAsync(StateName, Grain(), blind);
            Assert.False((await ReadAsync(storage, Grain())).RecordExists);
        }
    }

    [Fact]
    public async Task Clear_of_a_missing_record_succeeds_with_a_null_etag()
    {
        var storage = await TrackedCreateAsync();
        var state = New("", 0);
        await storage.ClearStateAsync(StateName, Grain("never-written"), state);
        Assert.False(state.RecordExists);
        Assert.False((await ReadAsync(storage, Grain("never-written"))).RecordExists);

        // Clearing again with the ETag it had before the first clear: the provider's rule for a cleared record.
        var gone = New("gone", 1);
        await storage.WriteStateAsync(StateName, Grain("gone"), gone);
        var oldETag = gone.ETag;
        await storage.ClearStateAsync(StateName, Grain("gone"), gone);
        var again = New("", 0);
        again.ETag = oldETag;
        again.RecordExists = true;
        if (RejectsETagOfClearedRecord)
            await Assert.ThrowsAnyAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, Grain("gone"), again));
        else
            await storage.ClearStateAsync(StateName, Grain("gone"), again);
        Assert.False((await ReadAsync(storage, Grain("gone"))).RecordExists);
    }

    [Fact]
    public async Task Concurrent_writers_with_the_same_etag_exactly_one_wins()
    {
        var storage = await TrackedCreateAsync();
        var start = New("start", 0);
        await storage.WriteStateAsync(StateName, Grain(), start);

        var baseETag = start.ETag;
        for (var round = 0; round < 3; round++)
        {
            var contenders = Enumerable.Range(0, ConcurrentWriters).Select(i =>
            {
                var s = New($"round {round} contender {i}", i);
                s.ETag = baseETag;
                s.RecordExists = true;
                return s;
            }).ToArray();
            var outcomes = await Task.WhenAll(contenders.Select(s => OutcomeAsync(Task.Run(() => storage.WriteStateAsync(StateName, Grain(), s)))));

            var winners = outcomes.Select((failure, index) => (failure, index)).Where(o => o.failure is null).Select(o => o.index).ToArray();
            Assert.Single(winners);
            Assert.All(outcomes.Where(f => f is not null), f => Assert.IsAssignableFrom<InconsistentStateException>(f));
            var read = await ReadAsync(storage, Grain());
            Assert.Equal(contenders[winners[0]].ETag, read.ETag);
            Assert.Equal($"round {round} contender {winners[0]}", read.State.Text);
            baseETag = read.ETag;
        }
    }

    [Fact]
    public async Task Concurrent_inserts_of_a_missing_record_exactly_one_wins()
    {
        var storage = await TrackedCreateAsync();
        var contenders = Enumerable.Range(0, ConcurrentWriters).Select(i => New($"inserter {i}", i)).ToArray();
        var outcomes = await Task.WhenAll(contenders.Select(s => OutcomeAsync(Task.Run(() => storage.WriteStateAsync(StateName, Grain("contested"), s)))));

        var winners = outcomes.Select((failure, index) => (failure, index)).Where(o => o.failure is null).Select(o => o.index).ToArray();
        Assert.Single(winners);
        Assert.All(outcomes.Where(f => f is not null), f => Assert.IsAssignableFrom<InconsistentStateException>(f));
        var read = await ReadAsync(storage, Grain("contested"));
        Assert.Equal(contenders[winners[0]].ETag, read.ETag);
        Assert.Equal($"inserter {winners[0]}", read.State.Text);
    }

    [Fact]
    public async Task Large_state_over_one_megabyte_round_trips_and_updates()
    {
        var storage = await TrackedCreateAsync();
        // 1.5 MB of JSON: a long string plus many list items.
        var state = New(Convert.ToBase64String(RandomBytes(768 * 1024, seed: 1)), 1,
            [.. Enumerable.Range(0, 20_000).Select(i => $"item-{i:D6}")]);
        await storage.WriteStateAsync(StateName, Grain(), state);
        var read = await ReadAsync(storage, Grain());
        Assert.Equal(state.ETag, read.ETag);
        AssertSame(state.State, read.State);

        read.State.Text = Convert.ToBase64String(RandomBytes(768 * 1024, seed: 2));
        read.State.Items.Reverse();
        await storage.WriteStateAsync(StateName, Grain(), read);
        AssertSame(read.State, (await ReadAsync(storage, Grain())).State);
    }

    [Fact]
    public async Task Unusual_and_long_keys_and_state_names_round_trip_without_colliding()
    {
        var storage = await TrackedCreateAsync();
        var keys = new[]
        {
            "ünïcødé-キー-🔑",
            "slashes/and\\backslashes//",
            "quotes ' \" and % _ * ? # & + = ; : , . ~",
            "   leading and trailing spaces   ",
            "a/b",
            "a",
            "A/b",
            new string('k', LongKeyLength),
            string.Concat(Enumerable.Repeat("é/", LongKeyLength / 4)),
        };
        var names = new[] { StateName, "ßtate/名前", "c", "b/c" };
        var etags = new Dictionary<(string, string), string>();
        foreach (var key in keys)
        {
            foreach (var name in names)
            {
                var state = New($"{key}|{name}", key.Length);
                await storage.WriteStateAsync(name, Grain(key), state);
                etags[(key, name)] = state.ETag!;
            }
        }

        foreach (var key in keys)
        {
            foreach (var name in names)
            {
                var read = new StateSlot<ConformanceState>(new ConformanceState());
                await storage.ReadStateAsync(name, Grain(key), read);
                Assert.True(read.RecordExists, $"{key}|{name} is missing");
                Assert.Equal($"{key}|{name}", read.State.Text);
                Assert.Equal(etags[(key, name)], read.ETag);
            }
        }

        Assert.False((await ReadAsync(storage, Grain(new string('k', LongKeyLength - 1)))).RecordExists);
    }

    [Fact]
    public async Task State_name_and_grain_type_are_kept_apart_or_the_provider_says_it_does_not()
    {
        var storage = await TrackedCreateAsync();
        var first = New("first", 1);
        await storage.WriteStateAsync("a-b", Grain("k"), first);
        var otherGrain = GrainId.Create("b-" + Grain("k").Type, "k");
        var second = New("second", 2);
        if (SeparatesStateNameFromGrainType)
        {
            await storage.WriteStateAsync("a", otherGrain, second);
            Assert.Equal("first", (await ReadAsync(storage, Grain("k"), "a-b")).State.Text);
            Assert.Equal("second", (await ReadAsync(storage, otherGrain, "a")).State.Text);
        }
        else
        {
            // The same record under two names: the insert conflicts and a read of the other name sees the first.
            await Assert.ThrowsAnyAsync<InconsistentStateException>(() => storage.WriteStateAsync("a", otherGrain, second));
            Assert.Equal("first", (await ReadAsync(storage, otherGrain, "a")).State.Text);
        }
    }

    [Fact]
    public async Task Many_grains_in_parallel_each_keep_their_own_state()
    {
        var storage = await TrackedCreateAsync();
        const int writesEach = 3;
        var finals = await Task.WhenAll(Enumerable.Range(0, ParallelGrains).Select(g => Task.Run(async () =>
        {
            var state = New("", 0);
            for (var n = 0; n < writesEach; n++)
            {
                state.State.Text = $"grain {g} write {n}";
                state.State.Number = n;
                await storage.WriteStateAsync(StateName, Grain($"parallel-{g}"), state);
            }
            return state.ETag!;
        })));

        var reads = await Task.WhenAll(Enumerable.Range(0, ParallelGrains).Select(g => Task.Run(() => ReadAsync(storage, Grain($"parallel-{g}")))));
        for (var g = 0; g < ParallelGrains; g++)
        {
            Assert.Equal(finals[g], reads[g].ETag);
            Assert.Equal($"grain {g} write {writesEach - 1}", reads[g].State.Text);
        }
    }

    [Fact]
    public async Task Raw_records_through_RecordStore_round_trip_byte_exact()
    {
        var records = new RecordStore(await TrackedCreateAsync());
        var allBytes = Enumerable.Range(0, 256).Select(i => (byte)i).Concat(Enumerable.Range(0, 256).Select(i => (byte)(255 - i))).ToArray();
        var large = RandomBytes(1024 * 1024 + 17, seed: 3);
        var cases = new (string Key, byte[] Data)[] { ("all-bytes", allBytes), ("empty", []), ("json-looking", Bytes("{\"a\":null}")), ("large", large) };
        var etags = new Dictionary<string, string>();
        foreach (var (key, data) in cases) etags[key] = await records.WriteAsync(Record(key), data, expectedETag: null);
        foreach (var (key, data) in cases) await AssertRecordAsync(records, Record(key), data, etags[key]);

        // The provider keeps no reference to the caller's buffer.
        var buffer = Bytes("caller buffer");
        var bufferETag = await records.WriteAsync(Record("buffer"), buffer, null);
        buffer.AsSpan().Fill(0xEE);
        await AssertRecordAsync(records, Record("buffer"), Bytes("caller buffer"), bufferETag);

        Assert.Null(await records.ReadAsync(Record("never-written")));
    }

    [Fact]
    public async Task Raw_records_follow_the_etag_rules_and_clearing_a_gone_record_succeeds()
    {
        var records = new RecordStore(await TrackedCreateAsync());
        var first = await records.WriteAsync(Record(), Bytes("v1"), null);
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => records.WriteAsync(Record(), Bytes("insert over"), null));
        var second = await records.WriteAsync(Record(), Bytes("v2"), first);
        Assert.NotEqual(first, second);
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => records.WriteAsync(Record(), Bytes("stale"), first));
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => records.ClearAsync(Record(), first));
        await AssertRecordAsync(records, Record(), Bytes("v2"), second);

        await records.ClearAsync(Record(), second);
        Assert.Null(await records.ReadAsync(Record()));
        // Clearing what is already gone (a retried or replayed delete) succeeds, with its old ETag or none.
        await records.ClearAsync(Record(), second);
        await records.ClearAsync(Record(), null);
        await records.ClearAsync(Record("never-written"), "1");
        Assert.Null(await records.ReadAsync(Record()));

        var reborn = await records.WriteAsync(Record(), Bytes("v3"), null);
        await AssertRecordAsync(records, Record(), Bytes("v3"), reborn);
    }

    [Fact]
    public async Task Data_survives_reopening_the_provider()
    {
        var storage = await TrackedCreateAsync();
        var kept = New("kept", 1);
        await storage.WriteStateAsync(StateName, Grain("kept"), kept);
        var cleared = New("cleared", 2);
        await storage.WriteStateAsync(StateName, Grain("cleared"), cleared);
        await storage.ClearStateAsync(StateName, Grain("cleared"), cleared);
        var large = RandomBytes(256 * 1024, seed: 4);
        var largeETag = await new RecordStore(storage).WriteAsync(Record("large"), large, null);

        var reopened = await ReopenStorageAsync(storage);
        if (!_created.Contains(reopened)) _created.Add(reopened);
        if (!IsDurable)
        {
            // Nothing to survive; the new instance must still be a working provider.
            var fresh = await ReadAsync(reopened, Grain("after-reopen"));
            fresh.State.Text = "x";
            await reopened.WriteStateAsync(StateName, Grain("after-reopen"), fresh);
            Assert.Equal("x", (await ReadAsync(reopened, Grain("after-reopen"))).State.Text);
            return;
        }

        var read = await ReadAsync(reopened, Grain("kept"));
        Assert.Equal(kept.ETag, read.ETag);
        Assert.Equal("kept", read.State.Text);
        Assert.False((await ReadAsync(reopened, Grain("cleared"))).RecordExists);
        await AssertRecordAsync(new RecordStore(reopened), Record("large"), large, largeETag);

        // ETags from before the reopen keep guarding: the current one works and yields a new ETag.
        read.State.Text = "kept v2";
        await reopened.WriteStateAsync(StateName, Grain("kept"), read);
        Assert.NotEqual(kept.ETag, read.ETag);
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => reopened.WriteStateAsync(StateName, Grain("kept"), kept));
    }

    /// <summary>A state object for a first write (no ETag).</summary>
    protected static StateSlot<ConformanceState> New(string text, int number, params string[] items) =>
        new(new ConformanceState { Text = text, Number = number, Items = [.. items] });

    /// <summary>Reads into a fresh state object.</summary>
    protected static async Task<StateSlot<ConformanceState>> ReadAsync(IGrainStorage storage, GrainId grain, string stateName = StateName)
    {
        var state = new StateSlot<ConformanceState>(new ConformanceState());
        await storage.ReadStateAsync(stateName, grain, state);
        return state;
    }

    private static void AssertSame(ConformanceState expected, ConformanceState actual)
    {
        Assert.Equal(expected.Number, actual.Number);
        Assert.Equal(expected.Items, actual.Items);
        // Hash first so a megabyte mismatch does not print a megabyte of diff.
        Assert.Equal(Hash(Bytes(expected.Text)), Hash(Bytes(actual.Text)));
    }

    /// <summary>Asserts the stored record has exactly <paramref name="expected"/> as data and <paramref name="expectedETag"/> as ETag.</summary>
    protected static async Task AssertRecordAsync(RecordStore records, RecordKey key, byte[] expected, string expectedETag)
    {
        var record = await records.ReadAsync(key);
        Assert.True(record is not null, $"expected a record for {key}");
        Assert.Equal(expectedETag, record.ETag);
        Assert.Equal(expected.Length, record.Data.Length);
        Assert.Equal(Hash(expected), Hash(record.Data.ToArray()));
    }

    protected static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    protected static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static string Hash(byte[] data) => Convert.ToHexString(SHA256.HashData(data));

    private static async Task<Exception?> OutcomeAsync(Task write)
    {
        try
        {
            await write;
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    private async Task<IGrainStorage> TrackedCreateAsync()
    {
        var storage = await CreateStorageAsync();
        _created.Add(storage);
        return storage;
    }

    private static async Task DisposeStorageAsync(IGrainStorage storage)
    {
        switch (storage)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }
}
