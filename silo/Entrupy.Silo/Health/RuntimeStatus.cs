using System.Diagnostics;
using System.Runtime;

namespace Entrupy.Silo.Health;

/// <summary>
/// What the silo process is doing right now (<c>GET /admin/runtime</c>): CPU, threads, and the garbage collector's
/// counters. Counters are totals since start, so two readings bracket a load test or an incident.
/// </summary>
/// <param name="UptimeSeconds">Seconds since the process started.</param>
/// <param name="CpuMilliseconds">CPU time used by the process, all threads, user and kernel.</param>
/// <param name="Cores">Cores the runtime sees.</param>
/// <param name="ThreadPoolThreads">Thread-pool threads now.</param>
/// <param name="ThreadPoolQueuedItems">Work items waiting for a thread-pool thread (above zero for long: the silo is CPU-starved).</param>
/// <param name="WorkingSetBytes">Resident memory.</param>
/// <param name="Gc">Garbage collector counters.</param>
/// <param name="Jit">Just-in-time compiler counters.</param>
public sealed record RuntimeStatus(
    double UptimeSeconds, double CpuMilliseconds, int Cores, int ThreadPoolThreads, long ThreadPoolQueuedItems, long WorkingSetBytes,
    GcStatus Gc, JitStatus Jit)
{
    /// <summary>A reading of this process.</summary>
    public static RuntimeStatus Read()
    {
        using var process = Process.GetCurrentProcess();
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        return new RuntimeStatus(
            (DateTime.Now - process.StartTime).TotalSeconds,
            process.TotalProcessorTime.TotalMilliseconds,
            Environment.ProcessorCount,
            ThreadPool.ThreadCount,
            ThreadPool.PendingWorkItemCount,
            process.WorkingSet64,
            new GcStatus(
                GCSettings.IsServerGC ? "server" : "workstation",
                [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)],
                GC.GetTotalPauseDuration().TotalMilliseconds,
                GC.GetTotalAllocatedBytes(),
                // Before the first collection the collector has no "after" figure (0); the live estimate stands in.
                info.Index == 0 ? GC.GetTotalMemory(forceFullCollection: false) : info.HeapSizeBytes,
                info.FragmentedBytes,
                info.TotalCommittedBytes),
            new JitStatus(
                System.Runtime.JitInfo.GetCompiledMethodCount(),
                System.Runtime.JitInfo.GetCompiledILBytes(),
                System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds));
    }
}

/// <summary>Garbage collector counters since the process started.</summary>
/// <param name="Mode"><c>server</c> or <c>workstation</c>.</param>
/// <param name="Collections">Collections of generation 0, 1 and 2 (a gen-2 collection counts in all three).</param>
/// <param name="PauseMilliseconds">Total time managed threads were paused by the collector: every request in flight waits through each pause.</param>
/// <param name="AllocatedBytes">Bytes allocated so far.</param>
/// <param name="HeapBytes">Heap size after the last collection (before the first one: the bytes in use now).</param>
/// <param name="FragmentedBytes">Free space inside the heap after the last collection.</param>
/// <param name="CommittedBytes">Memory committed for the heap.</param>
public sealed record GcStatus(string Mode, int[] Collections, double PauseMilliseconds, long AllocatedBytes, long HeapBytes, long FragmentedBytes, long CommittedBytes);

/// <summary>
/// Just-in-time compiler counters since the process started. Tiered compilation recompiles hot methods for a while
/// after start; while <paramref name="CompilationMilliseconds"/> still grows under load, the silo is warming up.
/// </summary>
/// <param name="Methods">Methods compiled (each tier counts).</param>
/// <param name="IlBytes">IL bytes compiled.</param>
/// <param name="CompilationMilliseconds">Time spent compiling, all threads.</param>
public sealed record JitStatus(long Methods, long IlBytes, double CompilationMilliseconds);
