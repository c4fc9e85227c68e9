using Microsoft.Data.Sqlite;

namespace Entrupy.TestSupport;

/// <summary>Looking into a SQLite grain store file from a test, while a silo may be running on it.</summary>
internal static class SqliteStoreFiles
{
    /// <summary>
    /// A transactionally consistent copy of <paramref name="database"/> at <paramref name="copy"/>, taken while the silo
    /// runs: what a machine that lost power at this instant would restart from (no deactivation, no final snapshot).
    /// </summary>
    public static string CrashCopy(string database, string copy)
    {
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "VACUUM INTO $path";
        command.Parameters.AddWithValue("$path", copy);
        command.ExecuteNonQuery();
        return copy;
    }

    /// <summary>(grain_key, bytes) of every stored record of a grain type (and state name, when given).</summary>
    public static List<(string Key, long Bytes)> Records(string database, string grainType, string? stateName = null)
    {
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT grain_key, length(data) FROM grain_state WHERE grain_type = $type AND ($state IS NULL OR state_name = $state) ORDER BY grain_key";
        command.Parameters.AddWithValue("$type", grainType);
        command.Parameters.AddWithValue("$state", (object?)stateName ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var rows = new List<(string, long)>();
        while (reader.Read()) rows.Add((reader.GetString(0), reader.GetInt64(1)));
        return rows;
    }
}

/// <summary>A folder under the temp directory for one test's store files, deleted (with SQLite's pooled handles closed) on dispose.</summary>
internal sealed class TemporaryStoreFolder : IDisposable
{
    public TemporaryStoreFolder(string prefix)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path);
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>A file name inside the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
