using System.Globalization;
using Entrupy.Storage;
using Microsoft.Data.Sqlite;
using Orleans.Storage;

namespace Entrupy.Persistence.Sqlite;

/// <summary>
/// The single write connection: schema migrations and committing one batch of operations per transaction.
/// Used only from the writer thread (and by <see cref="Dispose"/> after that thread has stopped).
/// </summary>
internal sealed class SqliteBatchWriter : IDisposable
{
    /// <summary>The schema version this build writes; stored in <c>PRAGMA user_version</c>.</summary>
    public const int SchemaVersion = 1;

    /// <summary>Marks the file as ours ("EGS1") so a foreign SQLite database is refused instead of altered.</summary>
    public const int ApplicationId = 0x45475331;

    private const string KeyPredicate = "grain_type = $type AND grain_key = $key AND state_name = $state";

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _rollback;
    private readonly SqliteCommand _readCounter;
    private readonly SqliteCommand _writeCounter;
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _update;
    private readonly SqliteCommand _delete;
    private readonly SqliteCommand _readETag;

    /// <summary>Commits so far; read it with Interlocked.Read, the writer thread increments it.</summary>
    public long CommitCountField;

    private SqliteBatchWriter(SqliteConnection connection)
    {
        _connection = connection;
        _begin = Command("BEGIN IMMEDIATE");
        _commit = Command("COMMIT");
        _rollback = Command("ROLLBACK");
        _readCounter = Command("SELECT value FROM storage_meta WHERE name = 'last_etag'");
        _writeCounter = Command("UPDATE storage_meta SET value = $value WHERE name = 'last_etag'", "$value");
        _insert = Command(
            "INSERT INTO grain_state (grain_type, grain_key, state_name, etag, updated_unix_ms, data) " +
            "VALUES ($type, $key, $state, $etag, $now, $data) ON CONFLICT DO NOTHING",
            "$type", "$key", "$state", "$etag", "$now", "$data");
        _update = Command(
            $"UPDATE grain_state SET etag = $etag, updated_unix_ms = $now, data = $data WHERE {KeyPredicate} AND etag = $expected",
            "$type", "$key", "$state", "$etag", "$now", "$data", "$expected");
        _delete = Command($"DELETE FROM grain_state WHERE {KeyPredicate} AND etag = $expected", "$type", "$key", "$state", "$expected");
        _readETag = Command($"SELECT etag FROM grain_state WHERE {KeyPredicate}", "$type", "$key", "$state");
    }

    /// <summary>Opens the write connection, switches to WAL with full fsync, and migrates the schema.</summary>
    public static SqliteBatchWriter Open(string connectionString, TimeSpan busyTimeout, long? maxDatabaseBytes)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            Execute(connection, $"PRAGMA busy_timeout = {(long)busyTimeout.TotalMilliseconds}");
            var journalMode = Convert.ToString(Scalar(connection, "PRAGMA journal_mode = WAL"), CultureInfo.InvariantCulture);
            if (!string.Equals(journalMode, "wal", StringComparison.OrdinalIgnoreCase))
                throw new GrainStorageException($"SQLite refused WAL mode (journal_mode is '{journalMode}'); group commit needs WAL.");
            // FULL: the WAL is fsynced on every commit, so a committed batch survives power loss, not only a process crash.
            Execute(connection, "PRAGMA synchronous = FULL");
            Migrate(connection);
            if (maxDatabaseBytes is { } cap)
            {
                var pageSize = Convert.ToInt64(Scalar(connection, "PRAGMA page_size"), CultureInfo.InvariantCulture);
                Execute(connection, FormattableString.Invariant($"PRAGMA max_page_count = {Math.Max(1, cap / pageSize)}"));
            }

            return new SqliteBatchWriter(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Applies every operation of <paramref name="batch"/> in one transaction and commits it. ETag checks happen inside
    /// the transaction, one statement per operation: a conflicting or failing operation changes nothing (SQLite statements
    /// are atomic) and fails alone, the rest still commit. Outcomes are recorded on each operation, not published.
    /// </summary>
    public void CommitBatch(List<PendingOperation> batch)
    {
        // Operations whose statement made SQLite abandon the whole transaction (SQLITE_FULL can): they fail, and the
        // batch is replayed without them, since nothing of it was committed. Bounded, so a store that fails every
        // statement costs a few attempts, not one per operation.
        const int maxReplays = 3;
        var failedAlone = new HashSet<PendingOperation>();
        for (var attempt = 0; ; attempt++)
        {
            var outcome = TryCommit(batch, failedAlone, out var lostTransactionAt, out var error);
            if (outcome == AttemptOutcome.Committed) return;
            if (outcome == AttemptOutcome.LostTransaction && attempt < maxReplays)
            {
                failedAlone.Add(lostTransactionAt!);
                continue;
            }

            FailAll(batch, error!, failedAlone);
            return;
        }
    }

    private enum AttemptOutcome
    {
        Committed,
        LostTransaction,
        Failed,
    }

    private AttemptOutcome TryCommit(List<PendingOperation> batch, HashSet<PendingOperation> failedAlone, out PendingOperation? lostTransactionAt, out Exception? error)
    {
        lostTransactionAt = null;
        error = null;
        try
        {
            _begin.ExecuteNonQuery();
        }
        catch (SqliteException ex)
        {
            error = SqliteErrors.Map("begin a write transaction", ex);
            return AttemptOutcome.Failed;
        }

        PendingOperation? current = null;
        try
        {
            var lastETag = Convert.ToInt64(_readCounter.ExecuteScalar(), CultureInfo.InvariantCulture);
            var nextETag = lastETag;
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            foreach (var operation in batch)
            {
                if (failedAlone.Contains(operation)) continue;
                operation.NewETag = null;
                operation.Failure = null;
                if (operation.CancellationToken.IsCancellationRequested)
                {
                    operation.Canceled = true;
                    continue;
                }

                current = operation;
                try
                {
                    Apply(operation, nextETag + 1, now);
                    if (operation.Failure is null && operation.Kind == OperationKind.Write) nextETag++;
                }
                catch (SqliteException ex) when (InTransaction())
                {
                    // The statement rolled back by itself and the transaction is intact: only this operation fails.
                    operation.Failure = SqliteErrors.Map($"write {operation.Key}", ex);
                }
            }

            current = null;
            if (nextETag != lastETag)
            {
                _writeCounter.Parameters["$value"].Value = nextETag;
                _writeCounter.ExecuteNonQuery();
            }

            _commit.ExecuteNonQuery();
            Interlocked.Increment(ref CommitCountField);
            return AttemptOutcome.Committed;
        }
        catch (SqliteException ex)
        {
            // The transaction (or its commit) failed as a whole: nothing of this attempt is durable.
            RollbackQuietly();
            if (current is not null)
            {
                current.Failure = SqliteErrors.Map($"write {current.Key}", ex);
                lostTransactionAt = current;
                error = current.Failure;
                return AttemptOutcome.LostTransaction;
            }

            error = SqliteErrors.Map("commit a batch of grain state writes", ex);
            return AttemptOutcome.Failed;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var command in new[] { _begin, _commit, _rollback, _readCounter, _writeCounter, _insert, _update, _delete, _readETag })
            command.Dispose();
        _connection.Dispose();
    }

    private void Apply(PendingOperation operation, long newETag, long now)
    {
        var key = operation.Key;
        var expected = ParseETag(operation.ExpectedETag);
        int changed;
        if (operation.Kind == OperationKind.Write)
        {
            var command = expected is null ? _insert : _update;
            SetKey(command, key);
            command.Parameters["$etag"].Value = newETag;
            command.Parameters["$now"].Value = now;
            command.Parameters["$data"].Value = operation.Data!;
            if (expected is not null) command.Parameters["$expected"].Value = expected.Value;
            changed = command.ExecuteNonQuery();
            if (changed == 1)
            {
                operation.NewETag = PendingOperation.FormatETag(newETag);
                return;
            }
        }
        else
        {
            if (expected is null)
            {
                // Clearing a missing record succeeds; clearing an existing one without its ETag is a conflict.
                var stored = ReadStoredETag(key);
                if (stored is not null) operation.Failure = Conflict(key, null, stored);
                else operation.NewETag = "";
                return;
            }

            SetKey(_delete, key);
            _delete.Parameters["$expected"].Value = expected.Value;
            changed = _delete.ExecuteNonQuery();
            if (changed == 1)
            {
                operation.NewETag = "";
                return;
            }
        }

        operation.Failure = Conflict(key, operation.ExpectedETag, ReadStoredETag(key));
    }

    // Orleans' exception, so grains and the API treat every provider's conflicts alike.
    private static InconsistentStateException Conflict(RecordKey key, string? expected, string? stored) =>
        new($"ETag conflict on {key}: expected {expected ?? "<no record>"}, storage has {stored ?? "<no record>"}. " +
            "Another writer changed this state; re-read it before retrying.", stored ?? "", expected ?? "");

    private string? ReadStoredETag(RecordKey key)
    {
        SetKey(_readETag, key);
        var stored = _readETag.ExecuteScalar();
        return stored is null or DBNull ? null : PendingOperation.FormatETag(Convert.ToInt64(stored, CultureInfo.InvariantCulture));
    }

    /// <summary>Null for "no record expected"; -1 for a string that cannot be one of our ETags (stored ETags are ≥ 1, so it never matches).</summary>
    private static long? ParseETag(string? etag)
    {
        if (etag is null) return null;
        return long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version : -1;
    }

    private static void SetKey(SqliteCommand command, RecordKey key)
    {
        command.Parameters["$type"].Value = key.Type;
        command.Parameters["$key"].Value = key.Key;
        command.Parameters["$state"].Value = key.Name;
    }

    private bool InTransaction() => SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) == 0;

    private void RollbackQuietly()
    {
        if (!InTransaction()) return;
        try
        {
            _rollback.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // Already failing the batch with the original error; a failed rollback adds nothing for the caller.
        }
    }

    private static void FailAll(List<PendingOperation> batch, Exception failure, HashSet<PendingOperation> keepOwnFailure)
    {
        foreach (var operation in batch)
        {
            if (keepOwnFailure.Contains(operation)) continue;
            operation.NewETag = null;
            operation.Failure = failure;
            operation.Canceled = false;
        }
    }

    private SqliteCommand Command(string sql, params string[] parameterNames)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameterNames) command.Parameters.Add(new SqliteParameter { ParameterName = name });
        return command;
    }

    private static void Migrate(SqliteConnection connection)
    {
        var applicationId = Convert.ToInt64(Scalar(connection, "PRAGMA application_id"), CultureInfo.InvariantCulture);
        var version = Convert.ToInt64(Scalar(connection, "PRAGMA user_version"), CultureInfo.InvariantCulture);
        if (applicationId == 0 && version == 0)
        {
            var tables = Convert.ToInt64(Scalar(connection, "SELECT count(*) FROM sqlite_schema"), CultureInfo.InvariantCulture);
            if (tables != 0)
                throw new GrainStorageException($"{connection.DataSource} is a SQLite database of something else; refusing to add grain state to it.");
        }
        else if (applicationId != ApplicationId)
        {
            throw new GrainStorageException($"{connection.DataSource} is a SQLite database of something else (application_id {applicationId}).");
        }

        if (version > SchemaVersion)
            throw new GrainStorageException($"{connection.DataSource} has grain state schema version {version}; this build understands up to {SchemaVersion}.");

        if (version < 1)
        {
            // Version 1: one row per (grain type, grain key, state name). The blob is the last column so reading the
            // ETag alone does not walk its overflow pages. ETags come from one counter so they are never reused.
            Execute(connection, $"""
                BEGIN IMMEDIATE;
                CREATE TABLE grain_state (
                    grain_type TEXT NOT NULL,
                    grain_key TEXT NOT NULL,
                    state_name TEXT NOT NULL,
                    etag INTEGER NOT NULL,
                    updated_unix_ms INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (grain_type, grain_key, state_name));
                CREATE TABLE storage_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT INTO storage_meta (name, value) VALUES ('last_etag', 0);
                PRAGMA application_id = {ApplicationId};
                PRAGMA user_version = 1;
                COMMIT;
                """);
        }

        // Later versions add a block here: if (version < 2) { ... PRAGMA user_version = 2 ... } inside one transaction.
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
