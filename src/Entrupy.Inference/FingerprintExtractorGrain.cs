using Entrupy.Fingerprinting;
using Orleans;
using Orleans.Concurrency;
using Entrupy.Registry.Inference;

namespace Entrupy.Inference;

/// <summary>
/// Turns captures into fingerprints. A stateless worker: the silo keeps up to one activation per core, all using the
/// silo's <see cref="SharedFingerprintEngine"/>. With <see cref="ExtractionBatching.Coalesced"/> the captures of
/// concurrent calls go through the silo-wide <see cref="CaptureBatchQueue"/> and share model runs.
/// </summary>
/// <remarks>
/// <para><see cref="ExtractionBatching.PerCall"/>: the call's captures run synchronously in the turn; a busy
/// activation makes the pool send the next call to another worker.</para>
/// <para><see cref="ExtractionBatching.Coalesced"/>: a call queues its captures and, when fewer runners than cores
/// work, starts one on the thread pool (the engine takes concurrent runs). Reentrant, so the activation keeps
/// accepting calls while they wait; their captures form the next batch.</para>
/// </remarks>
[StatelessWorker]
[Reentrant]
[GrainType("fingerprint-extractor")]
internal sealed class FingerprintExtractorGrain(FingerprintModel model, CaptureBatchQueue queue, InferenceOptions options, SharedFingerprintEngine shared)
    : Grain, IFingerprintExtractorGrain
{
    private int PoolSize => shared.PoolSize;

    /// <inheritdoc />
    public Task<FingerprintModelInfo> GetModel() => Task.FromResult(new FingerprintModelInfo
    {
        Id = model.Id,
        Version = model.Version,
        OperatingThreshold = model.OperatingThreshold,
    });

    /// <inheritdoc />
    public async Task<ExtractionResult[]> Extract(byte[][] images, FingerprintUse use)
    {
        ArgumentNullException.ThrowIfNull(images);
        var purpose = ExtractionMapping.ToPurpose(use);
        if (images.Length == 0) return [];
        // A null part (possible after deserialization) is just an empty, hence unreadable, capture.
        var captures = Array.ConvertAll(images, image => image ?? []);
        var engineForCall = shared.Engine;
        FingerprintResult[] results;
        if (options.Batching == ExtractionBatching.PerCall)
        {
            results = [.. engineForCall.ExtractBatch(Array.ConvertAll(captures, c => (ReadOnlyMemory<byte>)c), purpose)];
        }
        else
        {
            var pending = queue.Enqueue(captures, use);
            StartRunnersIfIdle(engineForCall);
            results = await Task.WhenAll(pending.Select(p => p.Completion.Task));
        }
        var mapped = new ExtractionResult[results.Length];
        for (var i = 0; i < results.Length; i++)
        {
            var index = i;
            mapped[i] = ExtractionMapping.ToResult(results[i], i, () => Assess(engineForCall, captures[index]));
        }
        return mapped;
    }

    private void StartRunnersIfIdle(FingerprintEngine session)
    {
        while (queue.TryStartRunner(PoolSize))
            _ = Task.Run(() => RunUntilQueueEmpty(session));
    }

    /// <summary>A runner: takes batches until the queue is empty, then gives its slot back.</summary>
    private void RunUntilQueueEmpty(FingerprintEngine session)
    {
        var batch = new List<PendingCapture>(options.MaxBatchSize);
        do
        {
            while (queue.TakeBatch(options.MaxBatchSize, PoolSize, batch, out var purpose) > 0)
            {
                // Captures left over: a free core can take them now instead of after this run.
                if (queue.Pending > 0) StartRunnersIfIdle(session);
                Run(session, batch, purpose);
            }
        }
        while (queue.ContinueOrStopRunner());
    }

    private void Run(FingerprintEngine session, List<PendingCapture> batch, FingerprintPurpose purpose)
    {
        try
        {
            var results = session.ExtractBatch(batch.ConvertAll(p => (ReadOnlyMemory<byte>)p.Image), purpose);
            queue.RecordRun(batch.Count);
            for (var i = 0; i < batch.Count; i++) batch[i].Completion.TrySetResult(results[i]);
        }
        catch (Exception ex)
        {
            // An ORT failure belongs to every call in the batch; bad images never get here (they are results).
            foreach (var capture in batch) capture.Completion.TrySetException(ex);
        }
    }

    private static QualityReport? Assess(FingerprintEngine session, byte[] capture)
    {
        try
        {
            return session.Assess(capture);
        }
        catch (CaptureRejectedException ex)
        {
            return ex.Quality;
        }
    }
}
