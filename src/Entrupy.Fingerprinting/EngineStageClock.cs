using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Entrupy.Fingerprinting;

/// <summary>The stages of <see cref="FingerprintEngine"/>, as timed by <see cref="EngineStageClock"/>.</summary>
internal enum EngineStage
{
    /// <summary>Header read and decode to 8-bit pixels (native codecs).</summary>
    Decode,

    /// <summary>Gray conversion, centre crop and resampling to the model size.</summary>
    Normalise,

    /// <summary>The quality gate's figures.</summary>
    Quality,

    /// <summary>The ONNX Runtime run (whole model batch).</summary>
    Model,

    /// <summary>Response-map peaks and their bucketed selection.</summary>
    Keypoints,

    /// <summary>Sampling the cells into RootSIFT descriptors (every steered set).</summary>
    Descriptors,

    /// <summary>The VLAD global vector.</summary>
    GlobalVector,
}

/// <summary>
/// Adds up the time spent in each <see cref="EngineStage"/> across all threads. For profiling only: an engine times
/// nothing unless one is attached.
/// </summary>
/// <remarks>
/// On Linux the clock reads the calling thread's CPU time, so time the thread spent preempted by other processes on a
/// busy machine is not charged to a stage; elsewhere (or when <see cref="UseThreadCpuTime"/> is off) it reads elapsed time.
/// </remarks>
internal sealed class EngineStageClock
{
    private const long NanosecondsPerSecond = 1_000_000_000;
    private readonly long[] ticks = new long[Enum.GetValues<EngineStage>().Length];
    private long captures;

    /// <summary>Creates a clock.</summary>
    /// <param name="threadCpuTime">Charge thread CPU time (Linux) rather than elapsed time.</param>
    public EngineStageClock(bool threadCpuTime = true) => UseThreadCpuTime = threadCpuTime && OperatingSystem.IsLinux();

    /// <summary>True when stages are charged the thread's CPU time rather than elapsed time.</summary>
    public bool UseThreadCpuTime { get; }

    /// <summary>The current reading, in nanoseconds, to pass to <see cref="Add"/> when the stage ends.</summary>
    public long Start() => Now();

    /// <summary>Adds the time since <paramref name="start"/> (from <see cref="Start"/>) to <paramref name="stage"/>.</summary>
    public void Add(EngineStage stage, long start) => Interlocked.Add(ref ticks[(int)stage], Now() - start);

    /// <summary>Counts captures that reached the end of the pipeline.</summary>
    public void CountCaptures(int count) => Interlocked.Add(ref captures, count);

    /// <summary>Captures counted so far.</summary>
    public long Captures => Interlocked.Read(ref captures);

    /// <summary>Total milliseconds spent in <paramref name="stage"/>.</summary>
    public double Milliseconds(EngineStage stage) => Interlocked.Read(ref ticks[(int)stage]) / 1e6;

    /// <summary>Clears every total.</summary>
    public void Reset()
    {
        for (var i = 0; i < ticks.Length; i++) Interlocked.Exchange(ref ticks[i], 0);
        Interlocked.Exchange(ref captures, 0);
    }

    private long Now()
    {
        if (UseThreadCpuTime && ClockGetTime(ClockThreadCpuTimeId, out var t) == 0) return t.Seconds * NanosecondsPerSecond + t.Nanoseconds;
        return (long)(Stopwatch.GetTimestamp() * ((double)NanosecondsPerSecond / Stopwatch.Frequency));
    }

    private const int ClockThreadCpuTimeId = 3;

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
