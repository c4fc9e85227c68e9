using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Grains.Persistence.Sqlite;

/// <summary>Registers <see cref="SqliteGrainStorage"/> as a named grain storage provider.</summary>
public static class SqliteGrainStorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers a SQLite provider under <paramref name="name"/>. The file is opened on first use; the container's
    /// disposal commits queued writes and closes it.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">Provider name as used in <c>[PersistentState(stateName, storageName)]</c>.</param>
    /// <param name="configure">Sets at least <see cref="SqliteGrainStorageOptions.DatabasePath"/>.</param>
    public static IServiceCollection AddSqliteGrainStorage(this IServiceCollection services, string name, Action<SqliteGrainStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddGrainStorage(name, _ =>
        {
            var options = new SqliteGrainStorageOptions();
            configure(options);
            return new SqliteGrainStorage(options);
        });
    }

    /// <summary>Registers a SQLite provider as the default provider (<see cref="GrainStorageNames.Default"/>).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="databasePath">Path of the database file.</param>
    public static IServiceCollection AddSqliteGrainStorage(this IServiceCollection services, string databasePath)
        => services.AddSqliteGrainStorage(GrainStorageNames.Default, o => o.DatabasePath = databasePath);
}
