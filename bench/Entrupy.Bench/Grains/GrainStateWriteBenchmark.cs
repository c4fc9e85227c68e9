using System.Diagnostics;
using Entrupy.Grains;
using Entrupy.Grains.Persistence;
using Entrupy.Grains.Persistence.Sqlite;
using Entrupy.Grains.Runtime;

namespace Entrupy.Bench.Grains;

/// <summary>A grain that persists a counter on every call.</summary>
public interface IBenchCounterGrain : IGrainWithIntegerKey
{
    Task Write(long value);
}

/// <summary>State of <see cref="BenchCounterGrain"/>.</summary>
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
/// Durable state writes through grains: <c>grains</c> grains, each called in a loop by its own caller, each call
/// awaiting <see cref="IStorage.WriteStateAsync"/> on the SQLite provider (acknowledged once committed).
/// </summary>
public static class GrainStateWriteBenchmark
{
    public static async Task<Dictionary<string, object?>> MeasureAsync(BenchContext ctx, int grains = 64, double seconds = 5)
    {
        var folder = Path.Combine(Path.GetTempPath(), "entrupy-bench-grainstate-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            await using var silo = new SiloBuilder()
                .AddGrain<BenchCounterGrain>()
                .Configure(o => o.RoundTripCallsThroughSerializer = false)
                .ConfigureServices(s => s.AddSqliteGrainStorage(Path.Combine(folder, "state.db")))
                .Build();
            await silo.StartAsync();
            var refs = Enumerable.Range(0, grains).Select(i => silo.GrainFactory.GetGrain<IBenchCounterGrain>(i)).ToArray();

            ctx.Progress($"grain state writes: {grains} grains on SQLite, {seconds:0.#} s");
            await Run(refs, TimeSpan.FromSeconds(1)); // warm-up: activations, first inserts
            var (writes, elapsed) = await Run(refs, TimeSpan.FromSeconds(seconds));
            return new Dictionary<string, object?>
            {
                ["grain_state_grains"] = grains,
                ["grain_state_durable_writes_per_sec"] = Math.Round(writes / elapsed.TotalSeconds),
                ["grain_state_target_writes_per_sec"] = 20_000,
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
