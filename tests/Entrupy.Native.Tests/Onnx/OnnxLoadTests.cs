using System.Runtime.InteropServices;
using Entrupy.Native.Onnx;
using Xunit.Abstractions;

namespace Entrupy.Native.Tests.Onnx;

[Collection(nameof(OnnxIsolatedCollection))]
public sealed class OnnxLoadTests(ITestOutputHelper output)
{
    [Fact]
    public void ConcurrentRunsOnOneSessionGiveIdenticalResults()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);
        const int threads = 4, runsPerThread = 50, batch = 3;
        var inputs = Enumerable.Range(0, 8).Select(i => TinyModel.Images(batch, seed: 1000 + i)).ToArray();
        var expected = inputs.Select(input => session.Run("image", input, [batch, 1, 16, 16], out _)).ToArray();

        using var start = new Barrier(threads);
        var mismatches = 0;
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (var run = 0; run < runsPerThread; run++)
            {
                var which = (t + run) % inputs.Length;
                var actual = session.Run("image", inputs[which], [batch, 1, 16, 16], out _);
                if (!actual.AsSpan().SequenceEqual(expected[which])) Interlocked.Increment(ref mismatches);
            }
        })).ToArray();
        foreach (var worker in workers) worker.Start();
        foreach (var worker in workers) worker.Join();

        Assert.Equal(0, mismatches);
        TinyModel.AssertClose(TinyModel.Reference(inputs[0], batch).Embedding, expected[0]);
    }

    [Fact]
    public void TwoThousandRunsKeepNativeMemoryFlat()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);
        const int batch = 64;
        var images = TinyModel.Images(batch, seed: 9);
        var inputs = new Dictionary<string, OnnxTensor> { ["image"] = new(images, batch, 1, 16, 16) };
        // Both outputs: 2 x 2 KiB per run, so leaking them would add ~8 MB over 2,000 runs.
        void RunOnce() => session.Run(inputs);

        // Warm up ORT's arena and let tiered JIT finish recompiling the hot path, so the runtime's own native
        // allocations do not drown a per-run leak.
        for (var i = 0; i < 300; i++) RunOnce();
        Thread.Sleep(300);
        for (var i = 0; i < 300; i++) RunOnce();
        ForceGarbageCollection();
        var before = NativeHeapBytes();

        // 20 blocks of 100 runs. A leak grows the heap in every block; the runtime's own occasional allocations
        // (JIT, runner threads) land in a few, so the median block is a robust per-run figure.
        const int blocks = 20, runsPerBlock = 100;
        var blockGrowth = new long[blocks];
        var blockStart = before;
        for (var b = 0; b < blocks; b++)
        {
            for (var i = 0; i < runsPerBlock; i++) RunOnce();
            var now = NativeHeapBytes();
            blockGrowth[b] = (long)now - (long)blockStart;
            blockStart = now;
        }
        ForceGarbageCollection();
        var after = NativeHeapBytes();

        var total = (long)after - (long)before;
        var median = blockGrowth.Order().ElementAt(blocks / 2);
        output.WriteLine($"native heap: {before:N0} -> {after:N0} bytes ({total:N0}) over 2,000 runs; median per 100 runs {median:N0}");
        // Leaking only the small input OrtValue wrappers costs ~40 KB per block; leaking the outputs ~400 KB.
        Assert.True(median < 10_000, $"native heap grows by a median {median:N0} bytes per 100 runs: something leaks on every run");
        Assert.True(total < 4_000_000, $"native heap grew by {total:N0} bytes over 2,000 runs (from {before:N0} to {after:N0})");
    }

    [Fact]
    public void IntraOpThreadSettingSizesOrtsThreadPool()
    {
        // ORT's intra-op pool has (threads - 1) workers: the calling thread is the remaining one.
        var oneThread = ThreadsAddedBy(new OnnxSessionOptions { IntraOpThreads = 1 });
        var fourThreads = ThreadsAddedBy(new OnnxSessionOptions { IntraOpThreads = 4 });

        Assert.Equal(0, oneThread);
        Assert.Equal(3, fourThreads);
    }

    [Fact]
    public void EveryOptionCombinationLoadsAndComputesTheSameResult()
    {
        var images = TinyModel.Images(2, seed: 21);
        var expected = TinyModel.Reference(images, 2).Embedding;
        OnnxSessionOptions[] variants =
        [
            OnnxSessionOptions.Default,
            new() { IntraOpThreads = 1, GraphOptimizationLevel = OnnxGraphOptimizationLevel.None },
            new() { IntraOpThreads = 2, AllowSpinning = true, GraphOptimizationLevel = OnnxGraphOptimizationLevel.Basic },
            new() { InterOpThreads = 2, ParallelExecution = true, GraphOptimizationLevel = OnnxGraphOptimizationLevel.Extended },
        ];
        Assert.Equal(Math.Min(2, Environment.ProcessorCount), OnnxSessionOptions.Default.IntraOpThreads);
        Assert.Equal(1, OnnxSessionOptions.Default.InterOpThreads);
        Assert.False(OnnxSessionOptions.Default.AllowSpinning);
        Assert.Equal(OnnxGraphOptimizationLevel.All, OnnxSessionOptions.Default.GraphOptimizationLevel);

        foreach (var options in variants)
        {
            using var session = OnnxSession.FromFile(TinyModel.TinyPath, options);
            Assert.Same(options, session.Options);
            TinyModel.AssertClose(expected, session.Run("image", images, [2, 1, 16, 16], out _));
        }
    }

    private static int ThreadsAddedBy(OnnxSessionOptions options)
    {
        _ = OnnxRuntime.Version; // load the library and environment before counting
        using (OnnxSession.FromFile(TinyModel.TinyPath, OnnxSessionOptions.Default with { IntraOpThreads = 1 })) { }
        var before = ThreadCount();
        using var session = OnnxSession.FromFile(TinyModel.TinyPath, options);
        return ThreadCount() - before;
    }

    private static int ThreadCount() => Directory.GetDirectories("/proc/self/task").Length;

    private static void ForceGarbageCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>Bytes in use on glibc's heap across all arenas, including mmapped blocks.</summary>
    private static ulong NativeHeapBytes()
    {
        var info = MallInfo2();
        return (ulong)info.uordblks + (ulong)info.hblkhd;
    }

    [DllImport("libc.so.6", EntryPoint = "mallinfo2")]
    private static extern MallInfo2Result MallInfo2();

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2Result
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }
}
