using Entrupy.Fingerprinting;
using Entrupy.Native.Onnx;

namespace Entrupy.Inference;

/// <summary>
/// The one <see cref="FingerprintEngine"/> of a silo, shared by every extractor activation and batch runner.
/// </summary>
/// <remarks>
/// One engine per activation oversubscribed the cores: each engine's <see cref="FingerprintEngine.ExtractBatch"/>
/// already spreads its model runs over every core, and the engine is thread-safe (one ORT session taking concurrent
/// runs, pooled workspaces). Created on first use and released when the silo's services are disposed, so collected
/// activations no longer rebuild the session.
/// </remarks>
internal sealed class SharedFingerprintEngine(FingerprintModel model, InferenceOptions options) : IDisposable
{
    private readonly Lock gate = new();
    private FingerprintEngine? engine;
    private bool disposed;

    /// <summary>
    /// The silo-wide worker pool size the extractor runs with: one activation or batch runner per core, as Orleans
    /// sizes a <c>[StatelessWorker]</c> pool by default.
    /// </summary>
    public int PoolSize => Math.Max(1, Environment.ProcessorCount);

    /// <summary>The engine, created on first use.</summary>
    /// <exception cref="ObjectDisposedException">The silo is shutting down.</exception>
    public FingerprintEngine Engine
    {
        get
        {
            lock (gate)
            {
                ObjectDisposedException.ThrowIf(disposed, this);
                // As many concurrent single-threaded ORT runs as the pool has workers: each core is used once.
                return engine ??= new FingerprintEngine(model, new OnnxSessionOptions
                {
                    IntraOpThreads = options.ResolveIntraOpThreads(PoolSize),
                    InterOpThreads = 1,
                });
            }
        }
    }

    /// <summary>Releases the ORT session.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            engine?.Dispose();
            engine = null;
        }
    }
}
