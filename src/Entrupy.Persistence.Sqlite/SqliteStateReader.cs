using System.Globalization;
using Microsoft.Data.Sqlite;

using Entrupy.Storage;

namespace Entrupy.Persistence.Sqlite;

/// <summary>One pooled read connection with its prepared SELECT. Used by one reader at a time.</summary>
internal sealed class SqliteStateReader : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _select;

    private SqliteStateReader(SqliteConnection connection)
    {
        _connection = connection;
        _select = connection.CreateCommand();
        _select.CommandText = "SELECT data, etag FROM grain_state WHERE grain_type = $type AND grain_key = $key AND state_name = $state";
        foreach (var name in new[] { "$type", "$key", "$state" }) _select.Parameters.Add(new SqliteParameter { ParameterName = name });
    }

    /// <summary>Opens a read connection on a file the writer has already created and migrated.</summary>
    public static SqliteStateReader Open(string connectionString, TimeSpan busyTimeout)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            using var pragma = connection.CreateCommand();
            // query_only: a read connection can never change the file, whatever a bug might ask of it.
            pragma.CommandText = $"PRAGMA busy_timeout = {(long)busyTimeout.TotalMilliseconds}; PRAGMA query_only = 1;";
            pragma.ExecuteNonQuery();
            return new SqliteStateReader(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Reads one record; each call is its own read transaction, so it sees every batch committed before it began.</summary>
    public StoredRecord? Read(RecordKey key)
    {
        _select.Parameters["$type"].Value = key.Type;
        _select.Parameters["$key"].Value = key.Key;
        _select.Parameters["$state"].Value = key.Name;
        using var reader = _select.ExecuteReader();
        if (!reader.Read()) return null;
        var data = reader.GetFieldValue<byte[]>(0);
        var etag = reader.GetInt64(1).ToString(CultureInfo.InvariantCulture);
        return new StoredRecord(data, etag);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _select.Dispose();
        _connection.Dispose();
    }
}
