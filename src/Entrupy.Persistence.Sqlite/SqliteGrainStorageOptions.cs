using Entrupy.Storage;

namespace Entrupy.Persistence.Sqlite;

/// <summary>Settings of a <see cref="SqliteGrainStorage"/>.</summary>
public sealed class SqliteGrainStorageOptions
{
    /// <summary>Path of the database file (created with its folder when missing). SQLite adds <c>-wal</c> and <c>-shm</c> files beside it.</summary>
    public string DatabasePath { get; set; } = "";

    /// <summary>Most writes committed in one transaction (one fsync). Larger batches amortize better but delay the first caller of a batch.</summary>
    public int MaxBatchSize { get; set; } = 1024;

    /// <summary>Soft cap on the bytes of one batch, so a burst of large states does not become one huge transaction; a batch always takes at least one write.</summary>
    public int MaxBatchBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Most concurrent reads; each holds its own read connection (WAL lets readers run beside the writer).</summary>
    public int MaxReadConnections { get; set; } = 8;

    /// <summary>
    /// Optional cap on the database size (SQLite <c>max_page_count</c>). A write that would grow the file past it fails
    /// with <see cref="StorageUnavailableException"/>, as on a full disk, and nothing of it is stored. Null: no cap.
    /// </summary>
    public long? MaxDatabaseBytes { get; set; }

    /// <summary>How long SQLite waits on a lock held by another process before the operation fails.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
