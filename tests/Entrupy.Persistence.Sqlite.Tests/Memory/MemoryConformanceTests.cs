using Entrupy.Grains.Persistence.Conformance;
using Entrupy.Grains.Runtime.Persistence;

namespace Entrupy.Grains.Persistence.Sqlite.Tests.Memory;

/// <summary>The shared provider conformance kit against the in-memory provider (which keeps nothing across instances).</summary>
public sealed class MemoryConformanceTests : GrainStorageConformanceTests
{
    protected override bool IsDurable => false;

    protected override Task<IGrainStorage> CreateStorageAsync() => Task.FromResult<IGrainStorage>(new MemoryGrainStorage());
}
