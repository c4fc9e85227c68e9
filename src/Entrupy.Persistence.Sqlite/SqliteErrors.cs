using Microsoft.Data.Sqlite;

using Entrupy.Storage;

namespace Entrupy.Persistence.Sqlite;

/// <summary>Turns SQLite error codes into the provider-neutral storage exceptions.</summary>
internal static class SqliteErrors
{
    // Primary result codes (the low byte of extended codes): https://sqlite.org/rescode.html
    private const int Busy = 5;
    private const int Locked = 6;
    private const int NoMemory = 7;
    private const int IoError = 10;
    private const int Full = 13;
    private const int CantOpen = 14;
    private const int Protocol = 15;

    /// <summary>
    /// Busy/locked, I/O errors, a full disk or a file that cannot be opened may pass: <see cref="StorageUnavailableException"/>.
    /// Anything else (corrupt or foreign file, constraint or misuse) will not: <see cref="GrainStorageException"/>.
    /// </summary>
    public static Exception Map(string action, SqliteException ex)
    {
        var message = $"SQLite grain storage could not {action}: {ex.Message}";
        return (ex.SqliteErrorCode & 0xFF) switch
        {
            Busy or Locked or NoMemory or IoError or Full or CantOpen or Protocol => new StorageUnavailableException(message, ex),
            _ => new GrainStorageException(message, ex),
        };
    }

    /// <summary>Runs <paramref name="action"/>, mapping a <see cref="SqliteException"/> with <see cref="Map"/>.</summary>
    public static T Translate<T>(string description, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SqliteException ex)
        {
            throw Map(description, ex);
        }
    }
}
