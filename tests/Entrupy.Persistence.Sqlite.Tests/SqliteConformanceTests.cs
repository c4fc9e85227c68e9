using Entrupy.TestSupport;
using Entrupy.Persistence.Conformance;
using Entrupy.Storage;
using Orleans.Storage;

namespace Entrupy.Persistence.Sqlite.Tests;

/// <summary>The shared conformance kit against <see cref="SqliteGrainStorage"/> on a SQLite file per test.</summary>
public sealed class SqliteConformanceTests : GrainStorageConformanceTests
{
    private readonly TempDirectory _directory = new();

    protected override Task<IGrainStorage> CreateStorageAsync()
        => Task.FromResult<IGrainStorage>(new SqliteGrainStorage(new SqliteGrainStorageOptions { DatabasePath = _directory.File("grains.db") }, new EntrupyGrainStateSerializer()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}
