using System.Diagnostics;
using System.Text.Json;

namespace Entrupy.Silo.Tests;

public class EvalCommandTests
{
    private static string RepoRoot() => Entrupy.TestSupport.RepositoryRoot.Path;

    private static async Task<(int Exit, string Stdout, string Stderr)> RunEvalAsync(params string[] args)
    {
        using var process = Process.Start(SiloProcess.StartInfo(["eval", .. args]))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Eval_on_the_committed_dev_set_meets_the_accuracy_targets()
    {
        var (exit, stdout, stderr) = await RunEvalAsync("--dataset", Path.Combine(RepoRoot(), "models", "fingerprint", "devset"));

        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
        var r = json.RootElement;
        Assert.Equal(30, r.GetProperty("items").GetInt32());
        Assert.Equal(60, r.GetProperty("genuine_pairs").GetInt32());
        Assert.Equal(80 * 30 - 60, r.GetProperty("impostor_pairs").GetInt32());
        Assert.True(r.GetProperty("eer").GetDouble() <= 0.01, stdout);
        Assert.True(r.GetProperty("frr_at_far_1e-3").GetDouble() <= 0.05, stdout);
        Assert.True(r.GetProperty("frr_at_far_1e-4").GetDouble() <= 0.10, stdout);
        Assert.True(r.GetProperty("rank1").GetDouble() >= 0.99, stdout);
        Assert.True(r.GetProperty("open_set_false_accept").GetDouble() <= 0.01, stdout);
        Assert.True(r.GetProperty("embed_per_s").GetDouble() > 0, stdout);
    }

    [Fact]
    public async Task Eval_reports_a_missing_dataset_clearly()
    {
        var (exit, _, stderr) = await RunEvalAsync("--dataset", Path.Combine(Path.GetTempPath(), "no-such-dataset-" + Guid.NewGuid()));

        Assert.Equal(2, exit);
        Assert.Contains("does not exist", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
