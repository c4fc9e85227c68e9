using System.Security.Cryptography;
using System.Text;

namespace Entrupy.Grains.Persistence.Conformance;

/// <summary>
/// The behaviour every <see cref="IGrainStorage"/> must show. A provider's test project derives from this class,
/// implements <see cref="CreateStorageAsync"/> (and, for a durable store, keeps <see cref="ReopenStorageAsync"/> able to
/// open the same backing store again); xunit then runs every fact here against that provider.
/// xunit creates a new instance per test, so a derived constructor can allocate a fresh backing store per test.
/// </summary>
public abstract class GrainStorageConformanceTests : IAsyncLifetime
{
    private readonly List<IGrainStorage> _created = new();
    private readonly string _grainType = "conformance-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Creates a provider over this test's backing store (the same store every time it is called in one test).</summary>
    protected abstract Task<IGrainStorage> CreateStorageAsync();

    /// <summary>
    /// Whether written data must survive <see cref="ReopenStorageAsync"/>. An in-memory provider returns false and the
    /// durability fact then only checks that the provider still works; every real store keeps the default.
    /// </summary>
    protected virtual bool IsDurable => true;

    /// <summary>
    /// Closes <paramref name="storage"/> (flushing what it buffers) and opens a new provider on the same backing store.
    /// The default disposes it and calls <see cref="CreateStorageAsync"/> again.
    /// </summary>
    protected virtual async Task<IGrainStorage> ReopenStorageAsync(IGrainStorage storage)
    {
        await DisposeStorageAsync(storage);
        _created.Remove(storage);
        return await TrackedCreateAsync();
    }

    /// <summary>How many writers the concurrency facts run at once.</summary>
    protected virtual int ConcurrentWriters => 32;

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Disposes every provider this test created; override to also delete the backing store (call the base first).</summary>
    public virtual async Task DisposeAsync()
    {
        foreach (var storage in _created) await DisposeStorageAsync(storage);
        _created.Clear();
    }

    /// <summary>A key unique to this test run, so providers over a shared store (a cloud account) do not collide.</summary>
    protected GrainStateKey Key(string grainKey = "grain-1", string stateName = "state") => new(_grainType, grainKey, stateName);

    /// <summary>Reading a record that was never written yields null.</summary>
    [Fact]
    public async Task Read_of_a_missing_record_returns_null()
    {
        var storage = await TrackedCreateAsync();
        Assert.Null(await storage.ReadAsync(Key("never-written")));
    }

    /// <summary>A null expected ETag inserts; the returned ETag is the one a read reports.</summary>
    [Fact]
    public async Task Insert_with_null_etag_creates_the_record()
    {
        var storage = await TrackedCreateAsync();
        var data = Bytes("first");
        var etag = await storage.WriteAsync(Key(), data, null);

        Assert.False(string.IsNullOrEmpty(etag));
        var record = await storage.ReadAsync(Key());
        Assert.NotNull(record);
        Assert.Equal(etag, record.ETag);
        Assert.Equal(data, record.Data.ToArray());
    }

    /// <summary>Inserting over an existing record (null ETag) is a conflict and leaves the record alone.</summary>
    [Fact]
    public async Task Insert_over_an_existing_record_conflicts()
    {
        var storage = await TrackedCreateAsync();
        var etag = await storage.WriteAsync(Key(), Bytes("original"), null);

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteAsync(Key(), Bytes("intruder"), null));
        Assert.Equal(Key(), conflict.Key);
        Assert.Null(conflict.ExpectedETag);

        await AssertStoredAsync(storage, Key(), Bytes("original"), etag);
    }

    /// <summary>An update with the current ETag replaces the data and yields a new ETag.</summary>
    [Fact]
    public async Task Update_with_current_etag_replaces_data_and_changes_etag()
    {
        var storage = await TrackedCreateAsync();
        var first = await storage.WriteAsync(Key(), Bytes("v1"), null);
        var second = await storage.WriteAsync(Key(), Bytes("v2"), first);
        var third = await storage.WriteAsync(Key(), Bytes("v3"), second);

        Assert.NotEqual(first, second);
        Assert.NotEqual(second, third);
        Assert.NotEqual(first, third);
        await AssertStoredAsync(storage, Key(), Bytes("v3"), third);
    }

    /// <summary>An update with a stale ETag throws and the stored data stays as it was.</summary>
    [Fact]
    public async Task Update_with_stale_etag_throws_and_changes_nothing()
    {
        var storage = await TrackedCreateAsync();
        var stale = await storage.WriteAsync(Key(), Bytes("v1"), null);
        var current = await storage.WriteAsync(Key(), Bytes("v2"), stale);

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteAsync(Key(), Bytes("lost update"), stale));
        Assert.Equal(stale, conflict.ExpectedETag);
        await AssertStoredAsync(storage, Key(), Bytes("v2"), current);
    }

    /// <summary>An update of a record that does not exist (non-null ETag) is a conflict and creates nothing.</summary>
    [Fact]
    public async Task Update_of_a_missing_record_conflicts()
    {
        var storage = await TrackedCreateAsync();
        var etag = await storage.WriteAsync(Key("other"), Bytes("x"), null);

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteAsync(Key("missing"), Bytes("y"), etag));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteAsync(Key("missing"), Bytes("y"), "not-an-etag-of-this-store"));
        Assert.Null(await storage.ReadAsync(Key("missing")));
    }

    /// <summary>Clearing with the current ETag deletes the record.</summary>
    [Fact]
    public async Task Clear_with_current_etag_deletes_the_record()
    {
        var storage = await TrackedCreateAsync();
        var etag = await storage.WriteAsync(Key(), Bytes("doomed"), null);

        await storage.ClearAsync(Key(), etag);
        Assert.Null(await storage.ReadAsync(Key()));

        // Once cleared the key is free again: an insert works.
        var again = await storage.WriteAsync(Key(), Bytes("reborn"), null);
        await AssertStoredAsync(storage, Key(), Bytes("reborn"), again);
    }

    /// <summary>Clearing with a stale ETag, or with a null ETag while a record exists, throws and keeps the record.</summary>
    [Fact]
    public async Task Clear_with_stale_or_null_etag_throws_and_keeps_the_record()
    {
        var storage = await TrackedCreateAsync();
        var stale = await storage.WriteAsync(Key(), Bytes("v1"), null);
        var current = await storage.WriteAsync(Key(), Bytes("v2"), stale);

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearAsync(Key(), stale));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearAsync(Key(), null));
        await AssertStoredAsync(storage, Key(), Bytes("v2"), current);
    }

    /// <summary>Clearing a record that does not exist succeeds with a null ETag and conflicts with a non-null one.</summary>
    [Fact]
    public async Task Clear_of_a_missing_record_succeeds_with_null_etag_only()
    {
        var storage = await TrackedCreateAsync();
        await storage.ClearAsync(Key("never-written"), null);
        Assert.Null(await storage.ReadAsync(Key("never-written")));

        var etag = await storage.WriteAsync(Key("gone"), Bytes("x"), null);
        await storage.ClearAsync(Key("gone"), etag);
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearAsync(Key("gone"), etag));
    }

    /// <summary>An ETag from before a clear does not match a record inserted after it (no ABA lost update).</summary>
    [Fact]
    public async Task Etag_from_before_a_clear_does_not_match_the_reinserted_record()
    {
        var storage = await TrackedCreateAsync();
        var old = await storage.WriteAsync(Key(), Bytes("first life"), null);
        await storage.ClearAsync(Key(), old);
        var reborn = await storage.WriteAsync(Key(), Bytes("second life"), null);

        Assert.NotEqual(old, reborn);
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteAsync(Key(), Bytes("zombie"), old));
        await AssertStoredAsync(storage, Key(), Bytes("second life"), reborn);
    }

    /// <summary>The three key parts are independent: records differing in one part do not collide.</summary>
    [Fact]
    public async Task Key_parts_are_independent()
    {
        var storage = await TrackedCreateAsync();
        // Joined naively with "/" these would all be "a/b/c"; a provider must not confuse them.
        var keys = new[]
        {
            new GrainStateKey(_grainType, "a/b", "c"),
            new GrainStateKey(_grainType, "a", "b/c"),
            new GrainStateKey(_grainType + "/a", "b", "c"),
            new GrainStateKey(_grainType, "A/b", "c"),
        };
        foreach (var key in keys) await storage.WriteAsync(key, Bytes(key.GrainType + "|" + key.GrainKey + "|" + key.StateName), null);
        foreach (var key in keys)
        {
            var record = await storage.ReadAsync(key);
            Assert.NotNull(record);
            Assert.Equal(Bytes(key.GrainType + "|" + key.GrainKey + "|" + key.StateName), record.Data.ToArray());
        }
    }

    /// <summary>Keys with unicode, slashes, quotes, control-like and reserved characters, and 1 KiB long keys work.</summary>
    [Fact]
    public async Task Unusual_and_long_keys_round_trip()
    {
        var storage = await TrackedCreateAsync();
        var grainKeys = new[]
        {
            "ünïcødé-キー-🔑",
            "slashes/and\\backslashes//",
            "quotes ' \" and % _ * ? # & + = ; : , . ~",
            "   leading and trailing spaces   ",
            "tab\tand\nnewline",
            "",
            new string('k', 1024),
            string.Concat(Enumerable.Repeat("é/", 256)), // 512 chars, 768 UTF-8 bytes
        };
        var etags = new Dictionary<string, string>();
        foreach (var grainKey in grainKeys)
            etags[grainKey] = await storage.WriteAsync(Key(grainKey, "ßtate/名前"), Bytes("value of " + grainKey), null);

        foreach (var grainKey in grainKeys)
            await AssertStoredAsync(storage, Key(grainKey, "ßtate/名前"), Bytes("value of " + grainKey), etags[grainKey]);
        Assert.Null(await storage.ReadAsync(Key(new string('k', 1023), "ßtate/名前")));
    }

    /// <summary>A 1 MiB state is stored and read back intact, and can be updated.</summary>
    [Fact]
    public async Task Large_state_of_one_mebibyte_round_trips()
    {
        var storage = await TrackedCreateAsync();
        var large = RandomBytes(1024 * 1024, seed: 1);
        var etag = await storage.WriteAsync(Key(), large, null);
        await AssertStoredAsync(storage, Key(), large, etag);

        var larger = RandomBytes(1024 * 1024, seed: 2);
        var etag2 = await storage.WriteAsync(Key(), larger, etag);
        await AssertStoredAsync(storage, Key(), larger, etag2);
    }

    /// <summary>Every byte value, an empty state, and the caller's later buffer changes: what is read is exactly what was written.</summary>
    [Fact]
    public async Task Data_round_trips_byte_exact()
    {
        var storage = await TrackedCreateAsync();
        var allBytes = Enumerable.Range(0, 256).Select(i => (byte)i).Concat(Enumerable.Range(0, 256).Select(i => (byte)(255 - i))).ToArray();
        var etag = await storage.WriteAsync(Key("all-bytes"), allBytes, null);
        await AssertStoredAsync(storage, Key("all-bytes"), allBytes, etag);

        var emptyETag = await storage.WriteAsync(Key("empty"), ReadOnlyMemory<byte>.Empty, null);
        await AssertStoredAsync(storage, Key("empty"), Array.Empty<byte>(), emptyETag);

        // The provider must not keep a reference to the caller's buffer.
        var buffer = Bytes("caller buffer");
        var bufferETag = await storage.WriteAsync(Key("buffer"), buffer, null);
        buffer.AsSpan().Fill(0xEE);
        await AssertStoredAsync(storage, Key("buffer"), Bytes("caller buffer"), bufferETag);

        // Nor hand out its own: changing what a read returned does not change the next read.
        var read = await storage.ReadAsync(Key("buffer"));
        if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(read!.Data, out var segment)) segment.AsSpan().Fill(0xAA);
        await AssertStoredAsync(storage, Key("buffer"), Bytes("caller buffer"), bufferETag);
    }

    /// <summary>Many writers on distinct keys, each updating its own record several times, all succeed.</summary>
    [Fact]
    public async Task Concurrent_writers_on_distinct_keys_all_succeed()
    {
        var storage = await TrackedCreateAsync();
        const int writesEach = 5;
        var results = await Task.WhenAll(Enumerable.Range(0, ConcurrentWriters).Select(i => Task.Run(async () =>
        {
            string? etag = null;
            for (var n = 0; n < writesEach; n++)
                etag = await storage.WriteAsync(Key($"writer-{i}"), Bytes($"writer {i} write {n}"), etag);
            return etag!;
        })));

        Assert.Equal(ConcurrentWriters, results.Distinct().Count());
        for (var i = 0; i < ConcurrentWriters; i++)
            await AssertStoredAsync(storage, Key($"writer-{i}"), Bytes($"writer {i} write {writesEach - 1}"), results[i]);
    }

    /// <summary>Writers racing on one key with the same ETag: exactly one wins, the rest conflict, the winner's data is stored.</summary>
    [Fact]
    public async Task Concurrent_writers_on_one_key_with_the_same_etag_exactly_one_wins()
    {
        var storage = await TrackedCreateAsync();
        var start = await storage.WriteAsync(Key(), Bytes("start"), null);

        for (var round = 0; round < 3; round++)
        {
            var baseETag = round == 0 ? start : (await storage.ReadAsync(Key()))!.ETag;
            var outcomes = await Task.WhenAll(Enumerable.Range(0, ConcurrentWriters)
                .Select(i => OutcomeAsync(Task.Run(() => storage.WriteAsync(Key(), Bytes($"round {round} contender {i}"), baseETag)))));

            var winners = outcomes.Select((outcome, index) => (outcome, index)).Where(o => o.outcome.ETag is not null).ToArray();
            Assert.Single(winners);
            Assert.All(outcomes.Where(o => o.ETag is null), o => Assert.IsType<InconsistentStateException>(o.Failure));
            await AssertStoredAsync(storage, Key(), Bytes($"round {round} contender {winners[0].index}"), winners[0].outcome.ETag!);
        }
    }

    /// <summary>Inserts racing on a missing key (all with a null ETag): exactly one creates it.</summary>
    [Fact]
    public async Task Concurrent_inserts_of_one_key_exactly_one_wins()
    {
        var storage = await TrackedCreateAsync();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, ConcurrentWriters)
            .Select(i => OutcomeAsync(Task.Run(() => storage.WriteAsync(Key("contested"), Bytes($"inserter {i}"), null)))));

        var winners = outcomes.Select((outcome, index) => (outcome, index)).Where(o => o.outcome.ETag is not null).ToArray();
        Assert.Single(winners);
        Assert.All(outcomes.Where(o => o.ETag is null), o => Assert.IsType<InconsistentStateException>(o.Failure));
        await AssertStoredAsync(storage, Key("contested"), Bytes($"inserter {winners[0].index}"), winners[0].outcome.ETag!);
    }

    /// <summary>An already-cancelled token cancels the call and nothing is written.</summary>
    [Fact]
    public async Task Cancelled_write_changes_nothing()
    {
        var storage = await TrackedCreateAsync();
        var etag = await storage.WriteAsync(Key(), Bytes("kept"), null);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => storage.WriteAsync(Key(), Bytes("dropped"), etag, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => storage.ClearAsync(Key(), etag, cancelled.Token));
        await AssertStoredAsync(storage, Key(), Bytes("kept"), etag);
    }

    /// <summary>
    /// Written data, ETags and deletions survive closing the provider and opening a new one on the same backing store,
    /// and the old ETags still guard the records.
    /// </summary>
    [Fact]
    public async Task Data_survives_reopening_the_provider()
    {
        var storage = await TrackedCreateAsync();
        var kept = await storage.WriteAsync(Key("kept"), Bytes("kept"), null);
        var updated = await storage.WriteAsync(Key("updated"), Bytes("v1"), null);
        updated = await storage.WriteAsync(Key("updated"), Bytes("v2"), updated);
        var cleared = await storage.WriteAsync(Key("cleared"), Bytes("gone"), null);
        await storage.ClearAsync(Key("cleared"), cleared);
        var large = RandomBytes(256 * 1024, seed: 3);
        var largeETag = await storage.WriteAsync(Key("large"), large, null);

        var reopened = await ReopenStorageAsync(storage);
        if (!_created.Contains(reopened)) _created.Add(reopened);
        if (!IsDurable)
        {
            // Nothing to survive; the new instance must still be a working, empty-or-not provider.
            var etag = await reopened.WriteAsync(Key("after-reopen"), Bytes("x"), (await reopened.ReadAsync(Key("after-reopen")))?.ETag);
            await AssertStoredAsync(reopened, Key("after-reopen"), Bytes("x"), etag);
            return;
        }

        await AssertStoredAsync(reopened, Key("kept"), Bytes("kept"), kept);
        await AssertStoredAsync(reopened, Key("updated"), Bytes("v2"), updated);
        await AssertStoredAsync(reopened, Key("large"), large, largeETag);
        Assert.Null(await reopened.ReadAsync(Key("cleared")));

        // ETags from before the reopen keep guarding: the stale one conflicts, the current one works and yields a fresh ETag.
        await Assert.ThrowsAsync<InconsistentStateException>(() => reopened.WriteAsync(Key("kept"), Bytes("stale"), cleared));
        var next = await reopened.WriteAsync(Key("kept"), Bytes("kept v2"), kept);
        Assert.NotEqual(kept, next);
        Assert.NotEqual(updated, next);
        Assert.NotEqual(largeETag, next);
        await AssertStoredAsync(reopened, Key("kept"), Bytes("kept v2"), next);
    }

    /// <summary>Asserts the stored record has exactly <paramref name="expected"/> as data and <paramref name="expectedETag"/> as ETag.</summary>
    protected static async Task AssertStoredAsync(IGrainStorage storage, GrainStateKey key, byte[] expected, string expectedETag)
    {
        var record = await storage.ReadAsync(key);
        Assert.True(record is not null, $"expected a record for {key}");
        Assert.Equal(expectedETag, record.ETag);
        var actual = record.Data.ToArray();
        Assert.Equal(expected.Length, actual.Length);
        // Compare hashes first so a 1 MiB mismatch does not print a megabyte of diff.
        Assert.Equal(Convert.ToHexString(SHA256.HashData(expected)), Convert.ToHexString(SHA256.HashData(actual)));
    }

    /// <summary>UTF-8 bytes of <paramref name="text"/>.</summary>
    protected static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Deterministic pseudo-random bytes.</summary>
    protected static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<(string? ETag, Exception? Failure)> OutcomeAsync(Task<string> write)
    {
        try
        {
            return (await write, null);
        }
        catch (Exception ex)
        {
            return (null, ex);
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
