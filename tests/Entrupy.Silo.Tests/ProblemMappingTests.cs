using Orleans;
using Entrupy.Storage;
using Orleans.Storage;
using Entrupy.Silo.Api;

namespace Entrupy.Silo.Tests;

/// <summary>The single exception → problem mapping (the HTTP side is covered by <see cref="ApiTests"/>).</summary>
public sealed class ProblemMappingTests
{
    [Fact]
    public void StoreFailuresConflictsTimeoutsAndUnknownExceptionsMapToStableKinds()
    {
        Assert.Equal((503, "storage-unavailable"), Kind(new StorageUnavailableException("blob endpoint refused the connection")));
        Assert.Equal((409, "conflict"), Kind(new InconsistentStateException("ETag conflict on t/k/s", "2", "1")));
        Assert.Equal((504, "timeout"), Kind(new TimeoutException()));
        Assert.Equal((413, "payload-too-large"), Kind(new Microsoft.AspNetCore.Http.BadHttpRequestException("too big", 413)));
        Assert.Equal((404, "not-found"), Kind(new ApiException(ApiErrorKind.NotFound, "gone")));

        var (kind, detail) = ApiProblems.Map(new InvalidOperationException("secret internal path /var/lib/x"));
        Assert.Equal("https://errors.entrupy.dev/internal", kind.Type);
        Assert.DoesNotContain("/var/lib", detail); // internal messages are not echoed to clients
        Assert.DoesNotContain("blob endpoint", ApiProblems.Map(new StorageUnavailableException("blob endpoint")).Detail);

        Assert.Equal(ApiErrorKind.All.Count, ApiErrorKind.All.Select(k => k.Type).Distinct().Count());
    }

    private static (int, string) Kind(Exception e)
    {
        var (kind, _) = ApiProblems.Map(e);
        return (kind.Status, kind.Slug);
    }
}
