using System.Diagnostics;
using System.Globalization;
using Entrupy.Bench.Hosting;
using Entrupy.Registry;
using Orleans.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Entrupy.Bench.Grains;

/// <summary>The ping grain of the benchmark.</summary>
public interface IBenchPingGrain : IGrainWithIntegerKey
{
    ValueTask<int> Ping(int value);

    /// <summary>A call carrying a registry record through the JSON contract codec (AddContractSerialization).</summary>
    ValueTask<int> Register(RegistrationRequest request);

    /// <summary>The same call with the Orleans-generated twin of the record.</summary>
    ValueTask<int> RegisterTwin(RegistrationRequestTwin request);
}

/// <summary>
/// <see cref="RegistrationRequest"/>'s members as an Orleans-serialized immutable type: what the contracts would look
/// like with <c>[GenerateSerializer]</c> instead of the JSON codec.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record RegistrationRequestTwin
{
    [Id(0)] public string ModelId { get; init; } = "";
    [Id(1)] public string ModelVersion { get; init; } = "";
    [Id(2)] public Dictionary<string, double> Quality { get; init; } = [];
    [Id(3)] public string? DeviceId { get; init; }
    [Id(4)] public string? OperatorId { get; init; }
    [Id(5)] public string? Location { get; init; }
    [Id(6)] public DateTimeOffset CapturedAt { get; init; }
    [Id(7)] public byte[]? Fingerprint { get; init; }
    [Id(8)] public string? FingerprintReference { get; init; }
    [Id(9)] public int CaptureCount { get; init; } = 1;
    [Id(10)] public string? Epc { get; init; }
    [Id(11)] public string? SupersedeReason { get; init; }
    [Id(12)] public string? RequestId { get; init; }
}

/// <summary>The same method on a plain object, the baseline.</summary>
public interface IPlainPing
{
    ValueTask<int> Ping(int value);
}

public sealed class BenchPingGrain : Grain, IBenchPingGrain
{
    public ValueTask<int> Ping(int value) => ValueTask.FromResult(value + 1);

    public ValueTask<int> Register(RegistrationRequest request) => ValueTask.FromResult(request.Fingerprint?.Length ?? 0);

    public ValueTask<int> RegisterTwin(RegistrationRequestTwin request) => ValueTask.FromResult(request.Fingerprint?.Length ?? 0);
}

public sealed class PlainPing : IPlainPing
{
    public ValueTask<int> Ping(int value) => ValueTask.FromResult(value + 1);
}

/// <summary>
/// Grain call overhead on a one-silo in-process Orleans host: throughput of a ping grain with many concurrent callers
/// and the latency of sequential awaited calls, each beside the same method called through an interface on a plain
/// object; then the cost of our JSON contract codec in a call carrying a registration record (100 KB fingerprint)
/// beside an Orleans-generated twin type, within the silo and through the gateway; then durable state writes.
/// </summary>
public sealed class GrainsBenchmark : IBenchmark
{
    public string Name => "grains";

    public string Description =>
        "Orleans grain calls: ping throughput with concurrent callers, sequential call latency p50/p99, vs a plain interface call; " +
        "JSON contract codec vs a [GenerateSerializer] twin; SQLite durable writes " +
        "[--seconds 2 --callers 64 --grains 64 --latency-calls 200000 --contract-seconds 2 --contract-callers 8 --fingerprint-bytes 100000 --write-seconds 5]";

    public async Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        var seconds = Option(args, "--seconds", 2.0);
        var callers = (int)Option(args, "--callers", 64);
        var grainCount = (int)Option(args, "--grains", 64);
        var latencyCalls = (int)Option(args, "--latency-calls", 200_000);
        var contractSeconds = Option(args, "--contract-seconds", 2.0);
        var contractCallers = (int)Option(args, "--contract-callers", 8);
        var fingerprintBytes = (int)Option(args, "--fingerprint-bytes", 100_000);
        var writeSeconds = Option(args, "--write-seconds", 5.0);
        var duration = TimeSpan.FromSeconds(seconds);

        var figures = new Dictionary<string, object?>();
        await using (var silo = await BenchSilo.StartAsync(gateway: true))
        {
            var grains = Enumerable.Range(0, grainCount).Select(i => silo.GrainFactory.GetGrain<IBenchPingGrain>(i)).ToArray();
            var plains = Enumerable.Range(0, grainCount).Select(_ => (IPlainPing)new PlainPing()).ToArray();
            var oneGrain = new[] { grains[0] };
            var onePlain = new[] { plains[0] };

            context.Progress($"warming up ({callers} callers, {grainCount} grains)");
            await Throughput(grains, callers, TimeSpan.FromMilliseconds(500));
            await Throughput(plains, callers, TimeSpan.FromMilliseconds(300));
            await Throughput(oneGrain, callers, TimeSpan.FromMilliseconds(300));

            context.Progress($"throughput, {seconds:0.#} s each");
            var (grainRate, grainCalls) = await Throughput(grains, callers, duration);
            var (plainRate, _) = await Throughput(plains, callers, duration);
            var (oneGrainRate, oneGrainCalls) = await Throughput(oneGrain, callers, duration);
            var (onePlainRate, _) = await Throughput(onePlain, callers, duration);

            context.Progress($"sequential latency, {latencyCalls:N0} calls each");
            var grainLatency = await Latency(silo.GrainFactory.GetGrain<IBenchPingGrain>(-1), latencyCalls);
            var plainLatency = await Latency<IPlainPing>(new PlainPing(), latencyCalls);

            // Orleans keeps no per-grain-type call counts or latencies like our runtime's statistics did: the calls are
            // the callers' own count of the measured throughput runs, activations come from the management grain.
            var management = silo.GrainFactory.GetGrain<IManagementGrain>(0);
            var activations = (await management.GetSimpleGrainStatistics())
                .Where(s => s.GrainType.Contains(nameof(BenchPingGrain), StringComparison.Ordinal))
                .Sum(s => s.ActivationCount);

            figures["runtime"] = "Microsoft Orleans " + BenchSilo.OrleansVersion;
            // Orleans never serializes a call within a silo; it deep-copies arguments that are not [Immutable] (an int is free).
            figures["round_trip_calls_through_serializer"] = false;
            figures["callers"] = callers;
            figures["grains"] = grainCount;
            figures["throughput_calls_per_s"] = new Dictionary<string, object?>
            {
                ["grain_many_grains"] = Math.Round(grainRate),
                ["plain_many_objects"] = Math.Round(plainRate),
                ["ratio_plain_over_grain"] = Math.Round(plainRate / grainRate, 2),
                ["grain_single_grain"] = Math.Round(oneGrainRate),
                ["plain_single_object"] = Math.Round(onePlainRate),
                ["ratio_single_plain_over_grain"] = Math.Round(onePlainRate / oneGrainRate, 2),
                ["target"] = 2_000_000,
            };
            figures["sequential_latency_ns"] = new Dictionary<string, object?>
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
            };
            figures["silo_statistics"] = new Dictionary<string, object?>
            {
                ["calls"] = grainCalls + oneGrainCalls,
                ["failures"] = 0, // a failed call throws out of the callers' loops and ends the run
                ["activations"] = activations,
                ["p50_ns"] = null,
                ["p99_ns"] = null,
                ["source"] = "calls counted by the callers; activations from IManagementGrain; Orleans has no per-type latency here",
            };

            figures["contract_serialization"] = await MeasureContractsAsync(context, silo, contractCallers, fingerprintBytes, TimeSpan.FromSeconds(contractSeconds));
        }

        // Durable state writes: 64 concurrent writers on the SQLite engine beside one-transaction-per-write, then
        // 64 grains writing [PersistentState] through SqliteGrainStorage.
        foreach (var (key, value) in await SqliteStorageBenchmark.MeasureAsync(context, seconds: writeSeconds))
            figures[key] = value;
        foreach (var (key, value) in await GrainStateWriteBenchmark.MeasureAsync(context, seconds: writeSeconds))
            figures[key] = value;

        return figures;
    }

    /// <summary>
    /// The same grain call with a registration record through the JSON codec and with its generated twin, within the
    /// silo (Orleans deep-copies the JSON record by a JSON round trip, passes the immutable twin as is) and from a
    /// client through the gateway (both serialized on the wire, as between silos). Alternating rounds; the better of two each.
    /// </summary>
    private static async Task<Dictionary<string, object?>> MeasureContractsAsync(
        BenchContext context, BenchSilo silo, int callers, int fingerprintBytes, TimeSpan duration)
    {
        var fingerprint = new byte[fingerprintBytes];
        new Random(7).NextBytes(fingerprint);
        var quality = new Dictionary<string, double> { ["sharpness"] = 0.91, ["exposure"] = 0.48, ["coverage"] = 0.97 };
        var capturedAt = new DateTimeOffset(2026, 12, 7, 10, 30, 0, TimeSpan.FromHours(1));
        var json = new RegistrationRequest
        {
            ModelId = "entrupy-fp", ModelVersion = "3.1.0", Quality = quality, DeviceId = "device-0042", OperatorId = "op-17",
            Location = "urn:epc:id:sgln:0614141.00777.0", CapturedAt = capturedAt, Fingerprint = fingerprint, CaptureCount = 3,
            Epc = "urn:epc:id:sgtin:0614141.112345.400", RequestId = Guid.NewGuid().ToString("N"),
        };
        var twin = new RegistrationRequestTwin
        {
            ModelId = json.ModelId, ModelVersion = json.ModelVersion, Quality = quality, DeviceId = json.DeviceId, OperatorId = json.OperatorId,
            Location = json.Location, CapturedAt = capturedAt, Fingerprint = fingerprint, CaptureCount = 3, Epc = json.Epc, RequestId = json.RequestId,
        };

        var serializer = silo.Services.GetRequiredService<Serializer>();
        var jsonBytes = serializer.SerializeToArray(json).Length;
        var twinBytes = serializer.SerializeToArray(twin).Length;

        await using var client = await silo.ConnectClientAsync();
        var figures = new Dictionary<string, object?>
        {
            ["argument"] = $"RegistrationRequest with a {fingerprintBytes:N0}-byte fingerprint",
            ["callers"] = callers,
            ["wire_bytes_json"] = jsonBytes,
            ["wire_bytes_twin"] = twinBytes,
        };
        foreach (var (where, factory) in new[] { ("in_silo", silo.GrainFactory), ("via_gateway", client.GrainFactory) })
        {
            var targets = Enumerable.Range(0, callers).Select(i => factory.GetGrain<IBenchPingGrain>(10_000 + i)).ToArray();
            Func<int, ValueTask<int>> jsonCall = c => targets[c % targets.Length].Register(json);
            Func<int, ValueTask<int>> twinCall = c => targets[c % targets.Length].RegisterTwin(twin);
            await CallRate(jsonCall, callers, TimeSpan.FromMilliseconds(300)); // warm-up: activations, connections, JIT
            await CallRate(twinCall, callers, TimeSpan.FromMilliseconds(300));
            double jsonRate = 0, twinRate = 0;
            for (var round = 0; round < 2; round++)
            {
                jsonRate = Math.Max(jsonRate, await CallRate(jsonCall, callers, duration));
                twinRate = Math.Max(twinRate, await CallRate(twinCall, callers, duration));
            }
            context.Progress($"contract call {where}: JSON codec {jsonRate:0}/s, generated twin {twinRate:0}/s");
            figures[$"{where}_json_calls_per_s"] = Math.Round(jsonRate);
            figures[$"{where}_twin_calls_per_s"] = Math.Round(twinRate);
            figures[$"{where}_ratio_twin_over_json"] = Math.Round(twinRate / jsonRate, 2);
        }

        return figures;
    }

    /// <summary>Calls per second of <paramref name="call"/> (given the caller's index) from concurrent async loops.</summary>
    private static async Task<double> CallRate(Func<int, ValueTask<int>> call, int callers, TimeSpan duration)
    {
        var sw = Stopwatch.StartNew();
        var counts = await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            long n = 0;
            while (sw.Elapsed < duration)
            {
                await call(c);
                n++;
            }
            return n;
        })));
        return counts.Sum() / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Calls per second with <paramref name="callers"/> concurrent async loops spread over the targets.</summary>
    private static async Task<(double Rate, long Calls)> Throughput<T>(T[] targets, int callers, TimeSpan duration) where T : class
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
        return (counts.Sum() / sw.Elapsed.TotalSeconds, counts.Sum());
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
