using Entrupy.TestSupport;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Entrupy.Registry.Inference;

namespace Entrupy.Inference.Tests;

[Collection(InferenceCollection.Name)]
public sealed class LifecycleTests(InferenceFixture fx)
{
    /// <summary>
    /// Idle workers are collected (runners or not) and the next call activates a new one that gives the same
    /// fingerprints (the silo's shared engine outlives the activations). Activations are counted by Orleans'
    /// management grain, as an operator would see them.
    /// </summary>
    [Theory]
    [InlineData(ExtractionBatching.PerCall)]
    [InlineData(ExtractionBatching.Coalesced)]
    public async Task CollectedWorkersAreReplacedAndGiveTheSameResults(ExtractionBatching batching)
    {
        await using var cluster = await InferenceFixture.Builder(new InferenceOptions { Batching = batching }, silo =>
            silo.Configure<GrainCollectionOptions>(o =>
            {
                o.CollectionAge = TimeSpan.FromSeconds(1);
                o.CollectionQuantum = TimeSpan.FromMilliseconds(100);
            })).DeployAsync();
        var grain = cluster.Client.GetGrain<IFingerprintExtractorGrain>(0);
        var auth = cluster.Client.GetGrain<IAuthenticatorGrain>(0);
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        var sample = File.ReadAllBytes(Path.Combine(InferenceFixture.RepoRoot, "models", "authentication", "samples", "acme-canvas-genuine-5000.png"));

        async Task<(int Extractors, int Authenticators)> ActivationsAsync()
        {
            var statistics = await management.GetSimpleGrainStatistics();
            int Count(string grainClass) => statistics.Where(s => s.GrainType.Contains(grainClass, StringComparison.Ordinal)).Sum(s => s.ActivationCount);
            return (Count(nameof(FingerprintExtractorGrain)), Count(nameof(AuthenticatorGrain)));
        }

        var first = await Task.WhenAll(fx.Captures.Take(3).Select(c => grain.Extract([c], FingerprintUse.Probe)));
        var verdict = await auth.Authenticate("acme-canvas", [sample]);
        // Both grain types are active, then nothing is left after the idle timeout.
        var active = await ActivationsAsync();
        Assert.True(active.Extractors >= 1 && active.Authenticators >= 1, $"activations after the calls: {active}");
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (await ActivationsAsync() != (0, 0) && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.Equal((0, 0), await ActivationsAsync());

        var again = await Task.WhenAll(fx.Captures.Take(3).Select(c => grain.Extract([c], FingerprintUse.Probe)));
        for (var i = 0; i < first.Length; i++) Assert.Equal(first[i][0].Fingerprint, again[i][0].Fingerprint);
        Assert.Equal(verdict.Scores["p_authentic"], (await auth.Authenticate("acme-canvas", [sample])).Scores["p_authentic"]);
    }

    [Fact]
    public void OptionsRejectOutOfRangeValuesAndSizeSessionsToThePool()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new InferenceOptions { MaxBatchSize = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new InferenceOptions { MaxBatchSize = 33 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new InferenceOptions { IntraOpThreadsPerSession = 0 });
        // A full pool (one session per core) gets one thread per session; a single session may use every core.
        Assert.Equal(1, InferenceOptions.Default.ResolveIntraOpThreads(Environment.ProcessorCount));
        Assert.Equal(Environment.ProcessorCount, InferenceOptions.Default.ResolveIntraOpThreads(1));
        Assert.Equal(3, new InferenceOptions { IntraOpThreadsPerSession = 3 }.ResolveIntraOpThreads(2));
        Assert.Equal(ExtractionBatching.PerCall, InferenceOptions.Default.Batching);
    }
}
