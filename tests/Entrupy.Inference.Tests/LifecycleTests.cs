using Entrupy.Grains.Testing;
using Entrupy.Registry.Inference;

namespace Entrupy.Inference.Tests;

[Collection(InferenceCollection.Name)]
public sealed class LifecycleTests(InferenceFixture fx)
{
    /// <summary>
    /// Idle workers are collected (runners or not) and the next call activates a new one that gives the same
    /// fingerprints (the silo's shared engine outlives the activations).
    /// </summary>
    [Theory]
    [InlineData(ExtractionBatching.PerCall)]
    [InlineData(ExtractionBatching.Coalesced)]
    public async Task CollectedWorkersAreReplacedAndGiveTheSameResults(ExtractionBatching batching)
    {
        var builder = new TestClusterBuilder().ConfigureSilo(o =>
        {
            o.ActivationIdleTimeout = TimeSpan.FromMilliseconds(500);
            o.CollectionInterval = TimeSpan.FromMilliseconds(20);
        });
        builder.SiloBuilder.AddInferenceGrains(new InferenceOptions { Batching = batching });
        await using var cluster = await builder.DeployAsync();
        var grain = cluster.GrainFactory.GetGrain<IFingerprintExtractorGrain>(0);
        var auth = cluster.GrainFactory.GetGrain<IAuthenticatorGrain>(0);
        var sample = File.ReadAllBytes(Path.Combine(InferenceFixture.RepoRoot, "models", "authentication", "samples", "acme-canvas-genuine-5000.png"));

        var first = await Task.WhenAll(fx.Captures.Take(3).Select(c => grain.Extract([c], FingerprintUse.Probe)));
        var verdict = await auth.Authenticate("acme-canvas", [sample]);
        // Both grain types were active (a counted call each way), then nothing is left after the idle timeout.
        Assert.True(cluster.GetStatistics("fingerprint-extractor").Calls >= 3);
        Assert.True(cluster.GetStatistics("authenticator").Calls >= 1);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((cluster.GetStatistics("fingerprint-extractor").Activations > 0 || cluster.GetStatistics("authenticator").Activations > 0) && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.Equal(0, cluster.GetStatistics("fingerprint-extractor").Activations);
        Assert.Equal(0, cluster.GetStatistics("authenticator").Activations);

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
