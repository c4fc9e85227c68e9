using System.Net;

namespace Entrupy.Silo.Tests;

/// <summary>Authentication jobs across silo restarts: each test runs its own silo processes over one SQLite file.</summary>
public sealed class AuthenticationDurabilityTests : IDisposable
{
    private readonly string dataDir = Path.Combine(Path.GetTempPath(), "entrupy-auth-durable-" + Guid.NewGuid().ToString("N")[..8]);

    public AuthenticationDurabilityTests() => Directory.CreateDirectory(dataDir);

    public void Dispose()
    {
        try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task JobsPendingWhenTheSiloStopsAreRunAfterItRestarts()
    {
        var db = Path.Combine(dataDir, "silo.db");
        var submitted = new List<(AuthenticationSample Sample, string Location)>();
        string tenantKey;

        // First silo: accepts submissions but runs no jobs, so every job is certainly pending when it is killed.
        await using (var first = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), AuthenticationSilo.Arguments(db, runJobs: false)))
        {
            using var admin = Api.Client(first.BaseAddress, ApiSilo.AdminKey);
            var tenant = await admin.CreateTenantAsync("auth-restart");
            tenantKey = tenant.Key;
            var samples = AuthenticationSamples.All;
            for (var i = 0; i < 6; i++)
            {
                var sample = samples[i % samples.Length];
                var (location, _) = await tenant.Client.SubmitAcceptedAsync($"restart-{i}", [sample.Bytes], sample.ModelId);
                submitted.Add((sample, location));
            }
            await Task.Delay(500);
            foreach (var (_, location) in submitted)
                Assert.Equal("pending", (await (await tenant.Client.GetAsync(location)).JsonAsync(HttpStatusCode.OK)).GetProperty("status").GetString());
        } // killed, not stopped: nothing gets a chance to finish

        await using var second = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), AuthenticationSilo.Arguments(db));
        using var client = Api.Client(second.BaseAddress, tenantKey);
        foreach (var (sample, location) in submitted)
        {
            var result = await client.WaitUntilDecidedAsync(location, TimeSpan.FromSeconds(30));
            Assert.True(sample.Truth == result.GetProperty("status").GetString(), $"{location} ({sample.File}): {result}");
        }
    }

    [Fact]
    public async Task JobsInterruptedMidRunFinishAfterARestart()
    {
        var db = Path.Combine(dataDir, "silo.db");
        var submitted = new List<(AuthenticationSample Sample, string Location)>();
        string tenantKey;

        // The runner is live here: the silo is killed as soon as the last submission is accepted, wherever each job got to.
        await using (var first = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), AuthenticationSilo.Arguments(db)))
        {
            using var admin = Api.Client(first.BaseAddress, ApiSilo.AdminKey);
            var tenant = await admin.CreateTenantAsync("auth-kill");
            tenantKey = tenant.Key;
            var samples = AuthenticationSamples.All;
            var accepted = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
            {
                var sample = samples[i % samples.Length];
                var (location, _) = await tenant.Client.SubmitAcceptedAsync($"kill-{i}", [sample.Bytes], sample.ModelId);
                return (sample, location);
            }));
            submitted.AddRange(accepted);
        }

        await using var second = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), AuthenticationSilo.Arguments(db));
        using var client = Api.Client(second.BaseAddress, tenantKey);
        foreach (var (sample, location) in submitted)
        {
            var result = await client.WaitUntilDecidedAsync(location, TimeSpan.FromSeconds(30));
            Assert.True(sample.Truth == result.GetProperty("status").GetString(), $"{location} ({sample.File}): {result}");
        }
    }
}
