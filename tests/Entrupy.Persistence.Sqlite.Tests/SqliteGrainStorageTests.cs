using Entrupy.TestSupport;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Entrupy.Storage;
using Microsoft.Data.Sqlite;
using Entrupy.Persistence.Conformance;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;

namespace Entrupy.Persistence.Sqlite.Tests;

/// <summary>
/// SQLite-specific behaviour beyond the conformance kit: layout, group commit, disposal, failures. Most facts drive
/// the record engine (<see cref="SqliteStateStore"/>) directly, as <see cref="SqliteGrainStorage"/> passes each
/// IGrainStorage call straight to it; the provider-level facts check that it does.
/// </summary>
public sealed class SqliteGrainStorageTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    private string DatabasePath => _directory.File("grains.db");

    private SqliteStateStore Open(TimeSpan? busyTimeout = null)
        => new(new SqliteGrainStorageOptions { DatabasePath = DatabasePath, BusyTimeout = busyTimeout ?? TimeSpan.FromSeconds(5) });

    private static RecordKey Key(string grainKey) => new("test", grainKey, "s");

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>A plain connection to inspect or tamper with the file from outside the provider.</summary>
    private SqliteConnection OpenRaw()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    [Fact]
    public async Task File_is_wal_with_versioned_schema_keyed_by_type_key_and_state()
    {
        await using (var storage = Open())
        {
            await storage.WriteAsync(Key("a"), Bytes("x"), null);
            using var raw = OpenRaw();
            Assert.Equal("wal", Scalar(raw, "PRAGMA journal_mode"));
            Assert.Equal(1L, Scalar(raw, "PRAGMA user_version"));
            Assert.Equal(0x45475331L, Scalar(raw, "PRAGMA application_id"));
            Assert.Equal("grain_type,grain_key,state_name",
                Scalar(raw, "SELECT group_concat(name) FROM (SELECT name FROM pragma_table_info('grain_state') WHERE pk > 0 ORDER BY pk)"));
            Assert.Equal(1L, Scalar(raw, "SELECT count(*) FROM grain_state WHERE grain_type = 'test' AND grain_key = 'a' AND state_name = 's'"));
        }

        // Reopening an up-to-date file does not migrate it again or lose data.
        await using var reopened = Open();
        Assert.NotNull(await reopened.ReadAsync(Key("a")));
    }

    [Fact]
    public async Task Etags_are_increasing_numbers_that_continue_across_reopen()
    {
        var etags = new List<long>();
        await using (var storage = Open())
        {
            string? etag = null;
            for (var i = 0; i < 3; i++)
            {
                etag = await storage.WriteAsync(Key("a"), Bytes($"v{i}"), etag);
                etags.Add(long.Parse(etag, CultureInfo.InvariantCulture));
            }

            etags.Add(long.Parse(await storage.WriteAsync(Key("b"), Bytes("b"), null), CultureInfo.InvariantCulture));
        }

        await using (var storage = Open())
            etags.Add(long.Parse(await storage.WriteAsync(Key("c"), Bytes("c"), null), CultureInfo.InvariantCulture));

        Assert.Equal(etags.Order(), etags);
        Assert.Equal(etags.Count, etags.Distinct().Count());
    }

    [Fact]
    public async Task Concurrent_writes_are_group_committed()
    {
        await using var storage = Open();
        const int writers = 64, writesEach = 20;
        var commitsBefore = storage.CommitCount;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            string? etag = null;
            for (var i = 0; i < writesEach; i++) etag = await storage.WriteAsync(Key($"w{w}"), Bytes($"{w}:{i}"), etag);
        })));

        var commits = storage.CommitCount - commitsBefore;
        // One commit per write would be 1280; with 64 writers waiting on each fsync, batches hold many writes.
        Assert.InRange(commits, 1, writers * writesEach / 4);
    }

    [Fact]
    public async Task A_conflicting_write_fails_alone_and_the_rest_of_its_batch_commits()
    {
        await using var storage = Open();
        var existing = await storage.WriteAsync(Key("existing"), Bytes("old"), null);
        var contested = await storage.WriteAsync(Key("contested"), Bytes("base"), null);

        // Hold the write lock from outside so the queue fills up, then release it: the queued writes form one batch.
        using var blocker = OpenRaw();
        using (var begin = blocker.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            begin.ExecuteNonQuery();
        }

        var first = storage.WriteAsync(Key("first"), Bytes("first"), null);
        await Task.Delay(200); // lets the writer take "first" alone and block in BEGIN on the lock
        var commitsBefore = storage.CommitCount;
        var fresh = Enumerable.Range(0, 20).Select(i => storage.WriteAsync(Key($"fresh{i}"), Bytes($"fresh {i}"), null)).ToArray();
        var stale = storage.WriteAsync(Key("existing"), Bytes("lost"), "999999");
        var contestWinner = storage.WriteAsync(Key("contested"), Bytes("winner"), contested);
        var contestLoser = storage.WriteAsync(Key("contested"), Bytes("loser"), contested);
        var missingClear = storage.ClearAsync(Key("nothing-here"), "1");
        using (var rollback = blocker.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        await first;
        await Task.WhenAll(fresh);
        await Assert.ThrowsAsync<InconsistentStateException>(() => stale);
        var winnerETag = await contestWinner;
        await Assert.ThrowsAsync<InconsistentStateException>(() => contestLoser);
        await Assert.ThrowsAsync<InconsistentStateException>(() => missingClear);
        Assert.InRange(storage.CommitCount - commitsBefore, 1, 2);

        Assert.Equal(existing, (await storage.ReadAsync(Key("existing")))!.ETag);
        Assert.Equal(Bytes("winner"), (await storage.ReadAsync(Key("contested")))!.Data.ToArray());
        Assert.Equal(winnerETag, (await storage.ReadAsync(Key("contested")))!.ETag);
        for (var i = 0; i < fresh.Length; i++) Assert.Equal(Bytes($"fresh {i}"), (await storage.ReadAsync(Key($"fresh{i}")))!.Data.ToArray());
    }

    [Fact]
    public async Task Dispose_commits_every_queued_write_then_refuses_new_work()
    {
        var storage = Open();
        var writes = Enumerable.Range(0, 300).Select(i => storage.WriteAsync(Key($"k{i}"), Bytes($"value {i}"), null)).ToArray();
        await storage.DisposeAsync();

        Assert.All(writes, w => Assert.True(w.IsCompletedSuccessfully));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => storage.WriteAsync(Key("late"), Bytes("late"), null));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => storage.ReadAsync(Key("k0")));
        await storage.DisposeAsync(); // idempotent

        await using var reopened = Open();
        for (var i = 0; i < writes.Length; i++)
        {
            var record = await reopened.ReadAsync(Key($"k{i}"));
            Assert.Equal(Bytes($"value {i}"), record!.Data.ToArray());
            Assert.Equal(await writes[i], record.ETag);
        }
    }

    [Fact]
    public async Task A_lock_held_elsewhere_fails_writes_with_storage_unavailable_then_writing_recovers()
    {
        await using var storage = Open(busyTimeout: TimeSpan.FromMilliseconds(200));
        var etag = await storage.WriteAsync(Key("a"), Bytes("before"), null);

        using (var blocker = OpenRaw())
        {
            using (var begin = blocker.CreateCommand())
            {
                begin.CommandText = "BEGIN IMMEDIATE";
                begin.ExecuteNonQuery();
            }

            var clock = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.WriteAsync(Key("a"), Bytes("during"), etag));
            Assert.IsType<SqliteException>(error.InnerException);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        }

        // Nothing of the failed batch was applied; the writer goes on with the next batch.
        Assert.Equal(Bytes("before"), (await storage.ReadAsync(Key("a")))!.Data.ToArray());
        var after = await storage.WriteAsync(Key("a"), Bytes("after"), etag);
        Assert.Equal(Bytes("after"), (await storage.ReadAsync(Key("a")))!.Data.ToArray());
        Assert.NotEqual(etag, after);
    }

    [Fact]
    public async Task A_full_database_fails_the_write_that_does_not_fit_and_keeps_working()
    {
        // max_page_count makes SQLite report SQLITE_FULL exactly as on a full disk.
        await using var storage = new SqliteStateStore(new SqliteGrainStorageOptions { DatabasePath = DatabasePath, MaxDatabaseBytes = 256 * 1024 });
        var small = await storage.WriteAsync(Key("small"), Bytes("fits"), null);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.WriteAsync(Key("huge"), new byte[1024 * 1024], null));
        Assert.Equal(13, ((SqliteException)error.InnerException!).SqliteErrorCode & 0xFF); // SQLITE_FULL
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Null(await storage.ReadAsync(Key("huge")));

        // A write that fits still goes through, the ETag chain intact.
        var next = await storage.WriteAsync(Key("small"), Bytes("still fits"), small);
        Assert.Equal(next, (await storage.ReadAsync(Key("small")))!.ETag);

        // In one batch (queued together): SQLite abandons the whole transaction on SQLITE_FULL, the provider replays the
        // batch without the write that did not fit, so only that one fails.
        var burst = Enumerable.Range(0, 5).Select(i => storage.WriteAsync(Key($"burst{i}"), Bytes($"b{i}"), null))
            .Append(storage.WriteAsync(Key("huge2"), new byte[1024 * 1024], null))
            .Concat(Enumerable.Range(5, 5).Select(i => storage.WriteAsync(Key($"burst{i}"), Bytes($"b{i}"), null)))
            .ToArray();
        await Task.WhenAny(Task.WhenAll(burst), Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.All(burst, t => Assert.True(t.IsCompleted));
        Assert.IsType<StorageUnavailableException>(burst[5].Exception!.InnerException);
        Assert.Null(await storage.ReadAsync(Key("huge2")));
        for (var i = 0; i < 10; i++)
        {
            var write = burst[i < 5 ? i : i + 1];
            Assert.True(write.IsCompletedSuccessfully, $"burst{i}: {write.Exception}");
            Assert.Equal(await write, (await storage.ReadAsync(Key($"burst{i}")))!.ETag);
        }
    }

    [Fact]
    public void A_file_that_is_not_a_database_is_refused_at_open()
    {
        File.WriteAllBytes(DatabasePath, Enumerable.Range(0, 8192).Select(i => (byte)(i * 7)).ToArray());
        var error = Assert.ThrowsAny<Exception>(() => Open());
        Assert.True(error is GrainStorageException or StorageUnavailableException, error.ToString());
    }

    [Fact]
    public void A_foreign_database_or_a_newer_schema_is_refused_untouched()
    {
        using (var raw = OpenRaw())
        using (var create = raw.CreateCommand())
        {
            create.CommandText = "CREATE TABLE customers (id INTEGER PRIMARY KEY)";
            create.ExecuteNonQuery();
        }

        Assert.Contains("something else", Assert.Throws<GrainStorageException>(() => Open()).Message);
        using (var raw = OpenRaw())
            Assert.Equal(0L, Scalar(raw, "SELECT count(*) FROM sqlite_schema WHERE name = 'grain_state'"));

        File.Delete(DatabasePath);
        Open().Dispose();
        using (var raw = OpenRaw())
        using (var bump = raw.CreateCommand())
        {
            bump.CommandText = "PRAGMA user_version = 2";
            bump.ExecuteNonQuery();
        }

        Assert.Contains("schema version 2", Assert.Throws<GrainStorageException>(() => Open()).Message);
    }

    [Fact]
    public async Task A_corrupted_file_fails_reads_and_writes_with_exceptions_not_hangs()
    {
        await using (var storage = Open())
        {
            for (var i = 0; i < 50; i++) await storage.WriteAsync(Key($"k{i}"), new byte[3000], null);
        }

        // Keep the 100-byte header (so the file still opens) and scribble over every page after the first.
        using (var file = new FileStream(DatabasePath, FileMode.Open, FileAccess.ReadWrite))
        {
            var garbage = Enumerable.Range(0, (int)file.Length - 4096).Select(i => (byte)(i * 31 + 7)).ToArray();
            file.Position = 4096;
            file.Write(garbage);
        }

        Exception? failure = null;
        try
        {
            await using var storage = Open();
            var read = Task.Run(() => storage.ReadAsync(Key("k1")));
            var write = storage.WriteAsync(Key("k1"), Bytes("x"), null);
            foreach (var task in new Task[] { read, write })
            {
                var finished = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(20)));
                Assert.Same(task, finished); // completed, one way or the other: no hang
                Assert.True(task.IsFaulted, "an operation on a corrupt file succeeded");
                failure = task.Exception!.InnerException;
                Assert.True(failure is GrainStorageException or StorageUnavailableException, failure?.ToString());
            }
        }
        catch (Exception ex) when (ex is GrainStorageException or StorageUnavailableException)
        {
            failure = ex; // refusing to open is also a clean failure
        }

        Assert.True(failure is GrainStorageException or StorageUnavailableException, failure?.ToString());
    }

    public sealed class Counter
    {
        public string Name { get; set; } = "";

        public int Count { get; set; }
    }

    private SqliteGrainStorage OpenProvider(int maxReadConnections = 8) => new(
        new SqliteGrainStorageOptions { DatabasePath = DatabasePath, MaxReadConnections = maxReadConnections }, new EntrupyGrainStateSerializer());

    [Fact]
    public async Task Provider_files_grain_state_as_one_row_of_web_json_and_raw_records_as_their_bytes()
    {
        await using (var storage = OpenProvider())
        {
            var state = new StateSlot<Counter>(new Counter { Name = "bag", Count = 3 });
            await storage.WriteStateAsync("counter", GrainId.Create("item", "k/1"), state);
            var raw = new GrainState<BinaryRecord>(new BinaryRecord { Data = [0, 1, 2, 0xFF] });
            await storage.WriteStateAsync("entry", GrainId.Create("journal", "k/1/000000000001"), raw);

            var stored = await storage.Store.ReadAsync(new RecordKey("item", "k/1", "counter"));
            Assert.Equal("""{"name":"bag","count":3}""", Encoding.UTF8.GetString(stored!.Data.Span));
            Assert.Equal(state.ETag, stored.ETag);
            Assert.Equal(SqliteGrainStorage.KeyOf("counter", GrainId.Create("item", "k/1")), new RecordKey("item", "k/1", "counter"));
        }

        using var connection = OpenRaw();
        Assert.Equal(new byte[] { 0, 1, 2, 0xFF }, (byte[])Scalar(connection,
            "SELECT data FROM grain_state WHERE grain_type = 'journal' AND grain_key = 'k/1/000000000001' AND state_name = 'entry'")!);
    }

    [Fact]
    public async Task Provider_writes_from_many_grains_are_group_committed()
    {
        await using var storage = OpenProvider();
        const int grains = 64, writesEach = 10;
        var commitsBefore = storage.Store.CommitCount;
        await Task.WhenAll(Enumerable.Range(0, grains).Select(g => Task.Run(async () =>
        {
            var state = new StateSlot<Counter>(new Counter { Name = $"g{g}" });
            for (var i = 0; i < writesEach; i++)
            {
                state.State.Count = i;
                await storage.WriteStateAsync("counter", GrainId.Create("item", $"g{g}"), state);
            }
        })));

        Assert.InRange(storage.Store.CommitCount - commitsBefore, 1, grains * writesEach / 4);
        var read = new StateSlot<Counter>(new Counter());
        await storage.ReadStateAsync("counter", GrainId.Create("item", "g63"), read);
        Assert.Equal(writesEach - 1, read.State.Count);
    }

    [Fact]
    public async Task Provider_conflicts_are_Orleans_InconsistentStateException_with_both_etags_in_the_message()
    {
        await using var storage = OpenProvider();
        var state = new StateSlot<Counter>(new Counter());
        await storage.WriteStateAsync("counter", GrainId.Create("item", "a"), state);
        var current = state.ETag!;
        var stale = new StateSlot<Counter>(new Counter()) { ETag = "1234567", RecordExists = true };

        var error = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("counter", GrainId.Create("item", "a"), stale));
        Assert.Contains("1234567", error.Message);
        Assert.Contains(current, error.Message);
        Assert.Equal("1234567", stale.ETag); // a failed write leaves the caller's ETag alone
    }

    [Fact]
    public async Task Concurrent_reads_beyond_the_connection_pool_all_see_whole_values_while_writes_go_on()
    {
        await using var storage = OpenProvider(maxReadConnections: 2);
        var records = new RecordStore(storage);
        const int keys = 8;
        var etags = new string?[keys];
        for (var k = 0; k < keys; k++) etags[k] = await records.WriteAsync(Key($"r{k}"), Bytes($"r{k}:0"), null);

        using var stop = new CancellationTokenSource();
        var writing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writer = Task.Run(async () =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                n++;
                var k = n % keys;
                etags[k] = await records.WriteAsync(Key($"r{k}"), Bytes($"r{k}:{n}"), etags[k]);
                writing.TrySetResult();
            }
            return n;
        });
        // The reads start once writes are going on (on a loaded machine the writer task may start late).
        await writing.Task;

        var reads = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(() => records.ReadAsync(Key($"r{i % keys}")))));
        await stop.CancelAsync();
        var writes = await writer;

        for (var i = 0; i < reads.Length; i++)
        {
            var text = Encoding.UTF8.GetString(reads[i]!.Data.Span);
            Assert.StartsWith($"r{i % keys}:", text); // a whole value of the right key, never another key's or a torn one
            Assert.True(long.TryParse(reads[i]!.ETag, CultureInfo.InvariantCulture, out _));
        }
        Assert.True(writes > 0);
    }

    [Fact]
    public async Task Hosting_extension_registers_a_keyed_provider_that_uses_the_registered_serializer()
    {
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<IGrainStorageSerializer, EntrupyGrainStateSerializer>(services);
        services.AddSqliteGrainStorageAsDefault(DatabasePath);
        await using (var provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services))
        {
            var storage = Microsoft.Extensions.DependencyInjection.ServiceProviderKeyedServiceExtensions.GetRequiredKeyedService<IGrainStorage>(provider, StorageNames.Default);
            var sqlite = Assert.IsType<SqliteGrainStorage>(storage);
            Assert.Equal(Path.GetFullPath(DatabasePath), sqlite.DatabasePath);
            await storage.WriteStateAsync("counter", GrainId.Create("item", "hosted"), new StateSlot<Counter>(new Counter { Count = 5 }));
        }

        // Disposing the services closed the file with the write in it.
        await using var reopened = Open();
        Assert.Equal("""{"name":"","count":5}""", Encoding.UTF8.GetString((await reopened.ReadAsync(new RecordKey("item", "hosted", "counter")))!.Data.Span));
    }

    public void Dispose() => _directory.Dispose();
}
