using System.Diagnostics;
using System.Globalization;
using Entrupy.Grains;
using Entrupy.Grains.Runtime;

namespace Entrupy.Bench.Grains;

/// <summary>The ping grain of the benchmark.</summary>
public interface IBenchPingGrain : IGrainWithIntegerKey
{
    ValueTask<int> Ping(int value);
}

/// <summary>The same method on a plain object, the baseline.</summary>
public interface IPlainPing
{
    ValueTask<int> Ping(int value);
}

public sealed class BenchPingGrain : Grain, IBenchPingGrain
{
    public ValueTask<int> Ping(int value) => ValueTask.FromResult(value + 1);
}

public sealed class PlainPing : IPlainPing
{
    public ValueTask<int> Ping(int value) => ValueTask.FromResult(value + 1);
}

/// <summary>
/// Grain call overhead: throughput of a ping grain with many concurrent callers and the latency of sequential
/// awaited calls, each beside the same method called through an interface on a plain object.
/// The silo runs with <see cref="SiloOptions.RoundTripCallsThroughSerializer"/> off (the production default).
/// </summary>
public sealed class GrainsBenchmark : IBenchmark
{
    public string Name => "grains";

    public string Description => "grain runtime: ping throughput with concurrent callers, sequential call latency p50/p99, vs a plain interface call";

    public async Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        var seconds = Option(args, "--seconds", 2.0);
        var callers = (int)Option(args, "--callers", 64);
        var grainCount = (int)Option(args, "--grains", 64);
        var latencyCalls = (int)Option(args, "--latency-calls", 200_000);
        var duration = TimeSpan.FromSeconds(seconds);

        await using var silo = new SiloBuilder()
            .AddGrain<BenchPingGrain>()
            .Configure(o => o.RoundTripCallsThroughSerializer = false)
            .Build();
        await silo.StartAsync();
        var grains = Enumerable.Range(0, grainCount).Select(i => silo.GrainFactory.GetGrain<IBenchPingGrain>(i)).ToArray();
        var plains = Enumerable.Range(0, grainCount).Select(_ => (IPlainPing)new PlainPing()).ToArray();
        var oneGrain = new[] { grains[0] };
        var onePlain = new[] { plains[0] };

        context.Progress($"warming up ({callers} callers, {grainCount} grains)");
        await Throughput(grains, callers, TimeSpan.FromMilliseconds(500));
        await Throughput(plains, callers, TimeSpan.FromMilliseconds(300));
        await Throughput(oneGrain, callers, TimeSpan.FromMilliseconds(300));

        context.Progress($"throughput, {seconds:0.#} s each");
        var grainRate = await Throughput(grains, callers, duration);
        var plainRate = await Throughput(plains, callers, duration);
        var oneGrainRate = await Throughput(oneGrain, callers, duration);
        var onePlainRate = await Throughput(onePlain, callers, duration);

        context.Progress($"sequential latency, {latencyCalls:N0} calls each");
        var grainLatency = await Latency(silo.GrainFactory.GetGrain<IBenchPingGrain>(-1), latencyCalls);
        var plainLatency = await Latency<IPlainPing>(new PlainPing(), latencyCalls);

        var stats = silo.Statistics.GetGrainTypeStatistics().Single(s => s.GrainType == "benchping");
        var figures = new Dictionary<string, object?>
        {
            ["round_trip_calls_through_serializer"] = false,
            ["callers"] = callers,
            ["grains"] = grainCount,
            ["throughput_calls_per_s"] = new Dictionary<string, object?>
            {
                ["grain_many_grains"] = Math.Round(grainRate),
                ["plain_many_objects"] = Math.Round(plainRate),
                ["ratio_plain_over_grain"] = Math.Round(plainRate / grainRate, 2),
                ["grain_single_grain"] = Math.Round(oneGrainRate),
                ["plain_single_object"] = Math.Round(onePlainRate),
                ["ratio_single_plain_over_grain"] = Math.Round(onePlainRate / oneGrainRate, 2),
                ["target"] = 2_000_000,
            },
            ["sequential_latency_ns"] = new Dictionary<string, object?>
            {
                ["grain_p50"] = grainLatency.P50,
                ["grain_p99"] = grainLatency.P99,
                ["grain_mean"] = grainLatency.Mean,
                ["grain_bytes_allocated_per_call"] = grainLatency.BytesPerCall,
                ["plain_p50"] = plainLatency.P50,
                ["plain_p99"] = plainLatency.P99,
                ["plain_mean"] = plainLatency.Mean,
                ["plain_bytes_allocated_per_call"] = plainLatency.BytesPerCall,
                ["ratio_p50_grain_over_plain"] = Math.Round(grainLatency.P50 / Math.Max(plainLatency.P50, 1), 1),
                ["target_grain_p99"] = 5_000,
            },
            ["silo_statistics"] = new Dictionary<string, object?>
            {
                ["calls"] = stats.Calls,
                ["failures"] = stats.Failures,
                ["activations"] = stats.Activations,
                ["p50_ns"] = stats.Latency.GetPercentile(50).TotalNanoseconds,
                ["p99_ns"] = stats.Latency.GetPercentile(99).TotalNanoseconds,
            },
        };

        // Durable state writes: 64 concurrent writers through the SQLite provider, beside one-transaction-per-write.
        foreach (var (key, value) in await SqliteStorageBenchmark.MeasureAsync(context))
            figures[key] = value;
        foreach (var (key, value) in await GrainStateWriteBenchmark.MeasureAsync(context))
            figures[key] = value;

        return figures;
    }

    /// <summary>Calls per second with <paramref name="callers"/> concurrent async loops spread over the targets.</summary>
    private static async Task<double> Throughput<T>(T[] targets, int callers, TimeSpan duration) where T : class
    {
        var stop = 0;
        var counts = new long[callers];
        var loops = new Task[callers];
        var sw = Stopwatch.StartNew();
        for (var c = 0; c < callers; c++)
        {
            var caller = c;
            loops[c] = Task.Run(async () =>
            {
                var target = targets[caller % targets.Length];
                long n = 0;
                var value = 0;
                while (Volatile.Read(ref stop) == 0)
                {
                    value = target switch
                    {
                        IBenchPingGrain g => await g.Ping(value),
                        IPlainPing p => await p.Ping(value),
                        _ => throw new InvalidOperationException(),
                    };
                    // Let other callers interleave on the same threads now and then, like independent requests would.
                    if ((++n & 255) == 0) await Task.Yield();
                }
                counts[caller] = n;
            });
        }
        await Task.Delay(duration);
        Volatile.Write(ref stop, 1);
        await Task.WhenAll(loops);
        return counts.Sum() / sw.Elapsed.TotalSeconds;
    }

    private readonly record struct LatencyFigures(double P50, double P99, double Mean, double BytesPerCall);

    /// <summary>Latency of one caller's sequential awaited calls, every call timed.</summary>
    private static async Task<LatencyFigures> Latency<T>(T target, int calls) where T : class
    {
        var ticks = new long[calls];
        var value = 0;
        for (var i = 0; i < Math.Min(calls, 20_000); i++) value = await Call(target, value); // warm-up
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var total = Stopwatch.StartNew();
        for (var i = 0; i < calls; i++)
        {
            var start = Stopwatch.GetTimestamp();
            value = await Call(target, value);
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }
        total.Stop();
        var bytes = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / (double)calls;
        Array.Sort(ticks);
        var toNs = 1_000_000_000.0 / Stopwatch.Frequency;
        return new LatencyFigures(
            Math.Round(ticks[calls / 2] * toNs),
            Math.Round(ticks[(int)(calls * 0.99)] * toNs),
            Math.Round(total.Elapsed.TotalNanoseconds / calls),
            Math.Round(bytes, 1));

        static ValueTask<int> Call(T target, int value) => target switch
        {
            IBenchPingGrain g => g.Ping(value),
            IPlainPing p => p.Ping(value),
            _ => throw new InvalidOperationException(),
        };
    }

    private static double Option(string[] args, string name, double fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
