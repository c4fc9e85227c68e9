using Entrupy.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Hosting;
using Orleans.Storage;

namespace Entrupy.Persistence.Sqlite;

/// <summary>Registers <see cref="SqliteGrainStorage"/> as an Orleans grain storage provider.</summary>
public static class SqliteGrainStorageHostingExtensions
{
    /// <summary>
    /// Registers a SQLite provider under <paramref name="name"/> (Orleans' keyed <see cref="IGrainStorage"/>). The file
    /// is opened when the provider is first resolved; disposing the silo's services commits queued writes and closes it.
    /// State is serialized with the <see cref="IGrainStorageSerializer"/> registered in the container, if any, else with
    /// <see cref="EntrupyGrainStateSerializer"/>.
    /// </summary>
    /// <param name="services">The silo's services.</param>
    /// <param name="name">Provider name, as in <c>[PersistentState(stateName, storageName)]</c>.</param>
    /// <param name="configure">Sets at least <see cref="SqliteGrainStorageOptions.DatabasePath"/>.</param>
    public static IServiceCollection AddSqliteGrainStorage(this IServiceCollection services, string name, Action<SqliteGrainStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new SqliteGrainStorageOptions();
        configure(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DatabasePath, nameof(options.DatabasePath));
        return services.AddGrainStorage(name, (sp, _) => new SqliteGrainStorage(options, sp.GetService<IGrainStorageSerializer>()));
    }

    /// <summary>Registers a SQLite provider on <paramref name="databasePath"/> as the default provider.</summary>
    /// <param name="services">The silo's services.</param>
    /// <param name="databasePath">Path of the database file (created with its folder when missing).</param>
    public static IServiceCollection AddSqliteGrainStorageAsDefault(this IServiceCollection services, string databasePath)
        => services.AddSqliteGrainStorage(StorageNames.Default, o => o.DatabasePath = databasePath);
}
