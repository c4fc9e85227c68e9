using Entrupy.Grains.Persistence.Sqlite;
using Entrupy.Grains.Testing;

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

    public Task<TestCluster> StartAsync(RegistryOptions? options = null)
    {
        var builder = new TestClusterBuilder().ConfigureServices(s => s.AddSqliteGrainStorage(DatabasePath));
        builder.SiloBuilder.AddRegistryGrains(options);
        return builder.DeployAsync();
    }

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
