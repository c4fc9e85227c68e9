using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Entrupy.Storage;
using Microsoft.Data.Sqlite;

namespace Entrupy.Persistence.Sqlite;

/// <summary>
/// The record engine under <see cref="SqliteGrainStorage"/>: one SQLite file in WAL mode with <c>synchronous=FULL</c>.
/// Writes from all grains go through one writer thread that drains a queue into a single transaction and commits it
/// (one fsync for the whole batch: group commit); each caller's task completes only after that commit, so an
/// acknowledged write is durable. ETags are decimal numbers from a counter stored in the file, so they increase with
/// every write and are never reused, not even after a clear. Reads use a small pool of separate read connections.
/// </summary>
public sealed class SqliteStateStore : IAsyncDisposable, IDisposable
{
    private readonly SqliteGrainStorageOptions _options;
    private readonly string _connectionString;
    private readonly Channel<PendingOperation> _queue = Channel.CreateUnbounded<PendingOperation>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly SqliteBatchWriter _writer;
    private readonly Thread _writerThread;
    private readonly TaskCompletionSource _writerStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentBag<SqliteStateReader> _idleReaders = new();
    private readonly SemaphoreSlim _readSlots;
    private int _disposed;
    private Exception? _writerFailure;

    /// <summary>Opens (or creates) the database file, applies schema migrations and starts the writer thread.</summary>
    /// <exception cref="GrainStorageException">The file is not a database of this provider, or its schema is newer than this build.</exception>
    /// <exception cref="StorageUnavailableException">The file cannot be opened or locked right now.</exception>
    public SqliteStateStore(SqliteGrainStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DatabasePath, nameof(options.DatabasePath));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatchSize, 1, nameof(options.MaxBatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxReadConnections, 1, nameof(options.MaxReadConnections));
        _options = options;

        var fullPath = Path.GetFullPath(options.DatabasePath);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        // No ADO.NET pooling: this class owns every connection, so disposing it really closes the file.
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();

        _writer = SqliteErrors.Translate("open", () => SqliteBatchWriter.Open(_connectionString, options.BusyTimeout, options.MaxDatabaseBytes));
        _readSlots = new SemaphoreSlim(options.MaxReadConnections, options.MaxReadConnections);
        _writerThread = new Thread(RunWriter) { IsBackground = true, Name = "sqlite-grain-storage-writer" };
        _writerThread.Start();
    }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => Path.GetFullPath(_options.DatabasePath);

    /// <summary>Commits so far (each one fsync). Writes divided by this is the average group-commit batch size.</summary>
    public long CommitCount => Interlocked.Read(ref _writer.CommitCountField);

    /// <summary>Reads a record, or null when none exists.</summary>
    public async Task<StoredRecord?> ReadAsync(RecordKey key, CancellationToken cancellationToken = default)
    {
        ValidateKey(key);
        ThrowIfDisposed();
        await _readSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        SqliteStateReader? reader = null;
        try
        {
            ThrowIfDisposed();
            reader = _idleReaders.TryTake(out var idle) ? idle : SqliteErrors.Translate("open a read connection", () => SqliteStateReader.Open(_connectionString, _options.BusyTimeout));
            var found = SqliteErrors.Translate($"read {key}", () => reader.Read(key));
            return found;
        }
        catch
        {
            // A connection that failed mid-read may be in a bad state; do not hand it out again.
            reader?.Dispose();
            reader = null;
            throw;
        }
        finally
        {
            if (reader is not null)
            {
                if (Volatile.Read(ref _disposed) == 0) _idleReaders.Add(reader);
                else reader.Dispose();
            }

            _readSlots.Release();
        }
    }

    /// <summary>Inserts (null ETag) or replaces (matching ETag) a record; completes once committed, with the new ETag.</summary>
    public Task<string> WriteAsync(RecordKey key, ReadOnlyMemory<byte> data, string? expectedETag, CancellationToken cancellationToken = default)
    {
        ValidateKey(key);
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<string>(cancellationToken);
        // Copy now: the caller may reuse its buffer as soon as this returns.
        return WriteOwnedAsync(key, data.ToArray(), expectedETag, cancellationToken);
    }

    /// <summary>As <see cref="WriteAsync"/>, for a buffer the caller hands over and never touches again (no copy).</summary>
    internal Task<string> WriteOwnedAsync(RecordKey key, byte[] data, string? expectedETag, CancellationToken cancellationToken = default)
    {
        ValidateKey(key);
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<string>(cancellationToken);
        var operation = new PendingOperation(OperationKind.Write, key, data, expectedETag, cancellationToken);
        Enqueue(operation);
        return operation.Completion.Task!;
    }

    /// <summary>Deletes a record (null ETag: only if it does not exist, which succeeds); completes once committed.</summary>
    public Task ClearAsync(RecordKey key, string? expectedETag, CancellationToken cancellationToken = default)
    {
        ValidateKey(key);
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled(cancellationToken);
        var operation = new PendingOperation(OperationKind.Clear, key, null, expectedETag, cancellationToken);
        Enqueue(operation);
        return operation.Completion.Task;
    }

    /// <summary>Stops accepting operations, commits every queued write, then closes all connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!BeginDispose()) return;
        await _writerStopped.Task.ConfigureAwait(false);
        CloseConnections();
    }

    /// <summary>Synchronous form of <see cref="DisposeAsync"/>: blocks until queued writes are committed.</summary>
    public void Dispose()
    {
        if (!BeginDispose()) return;
        _writerThread.Join();
        CloseConnections();
    }

    private bool BeginDispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return false;
        _queue.Writer.TryComplete();
        return true;
    }

    private void CloseConnections()
    {
        _writer.Dispose();
        while (_idleReaders.TryTake(out var reader)) reader.Dispose();
    }

    private void Enqueue(PendingOperation operation)
    {
        if (_queue.Writer.TryWrite(operation)) return;
        if (_writerFailure is { } failure)
            throw new GrainStorageException($"The SQLite writer for {DatabasePath} stopped after a failure: {failure.Message}", failure);
        throw new ObjectDisposedException(nameof(SqliteStateStore));
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private static void ValidateKey(RecordKey key)
    {
        if (key.Type is null || key.Key is null || key.Name is null)
            throw new ArgumentException("Every part of a grain state key must be non-null.", nameof(key));
    }

    private void RunWriter()
    {
        var batch = new List<PendingOperation>(_options.MaxBatchSize);
        try
        {
            var reader = _queue.Reader;
            // Blocking waits are fine here: this thread exists only to run the writer loop.
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                batch.Clear();
                long bytes = 0;
                while (batch.Count < _options.MaxBatchSize && reader.TryPeek(out var next))
                {
                    var size = next.Data?.Length ?? 0;
                    if (batch.Count > 0 && bytes + size > _options.MaxBatchBytes) break;
                    reader.TryRead(out _);
                    batch.Add(next);
                    bytes += size;
                }

                _writer.CommitBatch(batch);
                foreach (var operation in batch) operation.Publish();
            }
        }
        catch (Exception ex)
        {
            // A bug or an unexpected runtime failure: fail everything rather than leave callers waiting forever.
            _writerFailure = ex;
            _queue.Writer.TryComplete(ex);
            var failure = new GrainStorageException($"The SQLite writer for {DatabasePath} failed: {ex.Message}", ex);
            foreach (var operation in batch) operation.Completion.TrySetException(failure);
            while (_queue.Reader.TryRead(out var pending)) pending.Completion.TrySetException(failure);
        }
        finally
        {
            _writerStopped.TrySetResult();
        }
    }
}

/// <summary>What a queued operation does.</summary>
internal enum OperationKind
{
    Write,
    Clear,
}

/// <summary>One queued write or clear and the task its caller awaits.</summary>
internal sealed class PendingOperation
{
    public PendingOperation(OperationKind kind, RecordKey key, byte[]? data, string? expectedETag, CancellationToken cancellationToken)
    {
        Kind = kind;
        Key = key;
        Data = data;
        ExpectedETag = expectedETag;
        CancellationToken = cancellationToken;
    }

    public OperationKind Kind { get; }

    public RecordKey Key { get; }

    public byte[]? Data { get; }

    public string? ExpectedETag { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>Completed only after the batch's commit; continuations never run on the writer thread.</summary>
    public TaskCompletionSource<string> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The new ETag once applied inside the transaction; published only after the commit succeeds.</summary>
    public string? NewETag { get; set; }

    /// <summary>Why this operation alone failed (conflict, cancellation, a statement error), or why its batch failed.</summary>
    public Exception? Failure { get; set; }

    public bool Canceled { get; set; }

    /// <summary>Hands the outcome to the caller.</summary>
    public void Publish()
    {
        if (Canceled) Completion.TrySetCanceled(CancellationToken);
        else if (Failure is not null) Completion.TrySetException(Failure);
        else Completion.TrySetResult(NewETag!);
    }

    /// <summary>Formats a stored version as the ETag string callers see.</summary>
    public static string FormatETag(long version) => version.ToString(CultureInfo.InvariantCulture);
}
