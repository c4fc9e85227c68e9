using Entrupy.Fingerprinting;
using Entrupy.Registry.Inference;

namespace Entrupy.Inference;

/// <summary>A capture waiting in <see cref="CaptureBatchQueue"/> for a model run.</summary>
internal sealed class PendingCapture(byte[] image, long sequence)
{
    public byte[] Image { get; } = image;

    /// <summary>Arrival order across both purposes, so the oldest waiting capture decides the next batch's purpose.</summary>
    public long Sequence { get; } = sequence;

    // Asynchronous continuations: a runner on the thread pool completes it, and the waiting call must resume on its
    // own activation, not inline on the runner's thread (which has the next batch to run).
    public TaskCompletionSource<FingerprintResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// The silo-wide queue in front of the extractor activations' ONNX Runtime sessions: calls put their captures in;
/// at most one runner per core takes a batch at a time (oldest first, one purpose per batch) and runs it. Batches form
/// by themselves: while every runner is busy, new captures wait here and the next free runner takes them together.
/// </summary>
internal sealed class CaptureBatchQueue
{
    private readonly Lock gate = new();
    private readonly Queue<PendingCapture> probes = new();
    private readonly Queue<PendingCapture> enrolments = new();
    private long sequence;
    private int runners;
    private long runs;
    private long capturesRun;

    /// <summary>Captures waiting for a run.</summary>
    public int Pending
    {
        get
        {
            lock (gate) return probes.Count + enrolments.Count;
        }
    }

    /// <summary>Runners working now.</summary>
    public int Runners
    {
        get
        {
            lock (gate) return runners;
        }
    }

    /// <summary>Claims a runner slot when captures are waiting and fewer than <paramref name="max"/> runners work.</summary>
    public bool TryStartRunner(int max)
    {
        lock (gate)
        {
            if (runners >= max || probes.Count + enrolments.Count == 0) return false;
            runners++;
            return true;
        }
    }

    /// <summary>
    /// Called by a runner that found nothing to take: it keeps its slot (true) if captures arrived meanwhile, else gives
    /// it up. Atomic with <see cref="Enqueue"/>, so a capture never waits with no runner to take it.
    /// </summary>
    public bool ContinueOrStopRunner()
    {
        lock (gate)
        {
            if (probes.Count + enrolments.Count != 0) return true;
            runners--;
            return false;
        }
    }

    /// <summary>Model runs made from this queue so far.</summary>
    public long Runs => Interlocked.Read(ref runs);

    /// <summary>Captures those runs held (captures / runs = mean batch size).</summary>
    public long CapturesRun => Interlocked.Read(ref capturesRun);

    /// <summary>Counts one model run of <paramref name="captures"/> captures.</summary>
    public void RecordRun(int captures)
    {
        Interlocked.Increment(ref runs);
        Interlocked.Add(ref capturesRun, captures);
    }

    /// <summary>Queues the captures of one call, in order.</summary>
    public PendingCapture[] Enqueue(IReadOnlyList<byte[]> images, FingerprintUse use)
    {
        var pending = new PendingCapture[images.Count];
        lock (gate)
        {
            var queue = use == FingerprintUse.Enrolment ? enrolments : probes;
            for (var i = 0; i < pending.Length; i++)
            {
                pending[i] = new PendingCapture(images[i], ++sequence);
                queue.Enqueue(pending[i]);
            }
        }
        return pending;
    }

    /// <summary>
    /// Moves captures of one purpose (that of the oldest waiting capture) into <paramref name="batch"/> (cleared
    /// first): up to <paramref name="max"/>, and no more than a fair share when <paramref name="runnerSlots"/> runners
    /// could split the waiting captures, so one runner does not take everything while a core idles. Returns how many.
    /// </summary>
    public int TakeBatch(int max, int runnerSlots, List<PendingCapture> batch, out FingerprintPurpose purpose)
    {
        batch.Clear();
        lock (gate)
        {
            Queue<PendingCapture> queue;
            if (probes.Count == 0 && enrolments.Count == 0)
            {
                purpose = FingerprintPurpose.Probe;
                return 0;
            }
            if (enrolments.Count == 0 || (probes.Count != 0 && probes.Peek().Sequence < enrolments.Peek().Sequence))
            {
                queue = probes;
                purpose = FingerprintPurpose.Probe;
            }
            else
            {
                queue = enrolments;
                purpose = FingerprintPurpose.Enrolment;
            }
            var share = (probes.Count + enrolments.Count + Math.Max(1, runnerSlots) - 1) / Math.Max(1, runnerSlots);
            var take = Math.Min(max, Math.Max(1, share));
            while (batch.Count < take && queue.TryDequeue(out var capture)) batch.Add(capture);
        }
        return batch.Count;
    }
}
