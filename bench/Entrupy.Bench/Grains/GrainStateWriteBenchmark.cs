using System.Diagnostics;
using Entrupy.Bench.Hosting;
using Entrupy.Persistence.Sqlite;
using Entrupy.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace Entrupy.Bench.Grains;

/// <summary>A grain that persists a counter on every call.</summary>
public interface IBenchCounterGrain : IGrainWithIntegerKey
{
    Task Write(long value);
}

/// <summary>State of <see cref="BenchCounterGrain"/> (stored as JSON by <see cref="EntrupyGrainStateSerializer"/>).</summary>
public sealed class BenchCounterState
{
    public long Value { get; set; }

    public string Note { get; set; } = "";
}

public sealed class BenchCounterGrain([PersistentState("counter")] IPersistentState<BenchCounterState> state) : Grain, IBenchCounterGrain
{
    public async Task Write(long value)
    {
        state.State.Value = value;
        state.State.Note = "custody event " + value;
        await state.WriteStateAsync();
    }
}

/// <summary>
/// Durable state writes through grains on an Orleans silo: <c>grains</c> grains, each called in a loop by its own
/// caller, each call awaiting <c>WriteStateAsync()</c> of its <c>[PersistentState]</c> on
/// <see cref="SqliteGrainStorage"/> (acknowledged once committed), on a real file.
/// </summary>
public static class GrainStateWriteBenchmark
{
    public static async Task<Dictionary<string, object?>> MeasureAsync(BenchContext ctx, int grains = 64, double seconds = 5)
    {
        var folder = Path.Combine(Path.GetTempPath(), "entrupy-bench-grainstate-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            await using var silo = await BenchSilo.StartAsync(s => s.Services.AddSqliteGrainStorageAsDefault(Path.Combine(folder, "state.db")));
            var store = ((SqliteGrainStorage)silo.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Default)).Store;
            var refs = Enumerable.Range(0, grains).Select(i => silo.GrainFactory.GetGrain<IBenchCounterGrain>(i)).ToArray();

            ctx.Progress($"grain state writes: {grains} grains on SQLite, {seconds:0.#} s");
            await Run(refs, TimeSpan.FromSeconds(1)); // warm-up: activations, first inserts
            var commitsBefore = store.CommitCount;
            var (writes, elapsed) = await Run(refs, TimeSpan.FromSeconds(seconds));
            var commits = store.CommitCount - commitsBefore;
            ctx.Progress($"grain state writes: {writes / elapsed.TotalSeconds:0}/s, {writes / (double)Math.Max(1, commits):0.0} writes per commit");
            return new Dictionary<string, object?>
            {
                ["grain_state_grains"] = grains,
                ["grain_state_durable_writes_per_sec"] = Math.Round(writes / elapsed.TotalSeconds),
                ["grain_state_target_writes_per_sec"] = 20_000,
                ["grain_state_writes"] = writes,
                ["grain_state_commits"] = commits,
                ["grain_state_writes_per_commit"] = Math.Round(writes / (double)Math.Max(1, commits), 1),
                ["grain_state_meets_target"] = writes / elapsed.TotalSeconds >= 20_000,
            };
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<(long Writes, TimeSpan Elapsed)> Run(IBenchCounterGrain[] grains, TimeSpan duration)
    {
        long total = 0;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(grains.Select(async g =>
        {
            long n = 0;
            while (sw.Elapsed < duration) await g.Write(++n);
            Interlocked.Add(ref total, n);
        }));
        return (total, sw.Elapsed);
    }
}
