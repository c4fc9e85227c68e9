using Entrupy.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Entrupy.Registry.Tests;

/// <summary>A temp folder with one SQLite file; clusters started on it host the registry grains.</summary>
public sealed class RegistryTestHost : IDisposable
{
    public RegistryTestHost()
    {
        Folder = Path.Combine(Path.GetTempPath(), "entrupy-registry-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    public string DatabasePath => Path.Combine(Folder, "registry.db");

    public Task<InProcessTestCluster> StartAsync(RegistryOptions? options = null) => StartAsync(DatabasePath, options);

    /// <summary>A cluster on <paramref name="databasePath"/>; <paramref name="model"/> (when given) is shared instead of loading the model again.</summary>
    public static Task<InProcessTestCluster> StartAsync(string databasePath, RegistryOptions? options, Entrupy.Fingerprinting.FingerprintModel? model = null) =>
        Builder(databasePath, options, model).DeployAsync();

    /// <summary>
    /// The builder of such a cluster, for tests that change more (silo count, messaging or membership options); every
    /// silo hosts the registry grains on the default SQLite provider over <paramref name="databasePath"/>.
    /// </summary>
    public static InProcessTestClusterBuilder Builder(string databasePath, RegistryOptions? options = null, Entrupy.Fingerprinting.FingerprintModel? model = null,
        short silos = 1, Action<ISiloBuilder>? configure = null) =>
        EntrupyTestCluster.Builder(databasePath, silo =>
        {
            if (model is not null) silo.Services.AddSingleton(model);
            silo.AddRegistryGrains(options);
            configure?.Invoke(silo);
        }, silos);

    /// <summary>
    /// A transactionally consistent copy of the database as it is now, taken while the silo runs: what a machine that
    /// lost power at this instant would restart from (no deactivation, no final snapshot).
    /// </summary>
    public string CrashCopy(string name) => SqliteStoreFiles.CrashCopy(DatabasePath, Path.Combine(Folder, name + ".db"));

    /// <summary>(grain_key, bytes) of every stored record of a grain type / state name.</summary>
    public List<(string Key, long Bytes)> StoredRecords(string grainType, string? stateName = null, string? databasePath = null) =>
        SqliteStoreFiles.Records(databasePath ?? DatabasePath, grainType, stateName);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Folder, recursive: true);
    }

    public static RegistrationRequest Registration(string model = "fp-surface", string version = "2.1", string? reason = null) => new()
    {
        ModelId = model,
        ModelVersion = version,
        Quality = new() { ["sharpness"] = 0.91, ["exposure"] = 0.5 },
        DeviceId = "dev-7",
        OperatorId = "op-42",
        Location = "urn:epc:id:sgln:0614141.07346.1234",
        CapturedAt = new DateTimeOffset(2026, 5, 1, 10, 0, 0, TimeSpan.FromHours(2)),
        Fingerprint = [1, 2, 3, 4, 5, 250],
        CaptureCount = 3,
        SupersedeReason = reason,
    };

    public static CustodyEventRequest Event(string bizStep, string? disposition, DateTimeOffset at, EpcisAction action = EpcisAction.Observe) => new()
    {
        Action = action,
        BizStep = bizStep,
        Disposition = disposition,
        ReadPointId = "urn:epc:id:sgln:0614141.07346.1234",
        BizLocationId = "https://stores.example.com/loc/berlin-1",
        EventTime = at,
    };
}
