using Entrupy.Grains.Persistence.Conformance;

namespace Entrupy.Grains.Persistence.Sqlite.Tests;

/// <summary>The shared provider conformance kit against a SQLite file per test.</summary>
public sealed class SqliteConformanceTests : GrainStorageConformanceTests
{
    private readonly TempDirectory _directory = new();

    protected override Task<IGrainStorage> CreateStorageAsync()
        => Task.FromResult<IGrainStorage>(new SqliteGrainStorage(new SqliteGrainStorageOptions { DatabasePath = _directory.File("grains.db") }));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}
