using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Entrupy.Grains.Runtime;

/// <summary>
/// A silo: hosts grain activations and serves calls made through its <see cref="GrainFactory"/>.
/// Build one with <see cref="SiloBuilder"/> (standalone) or <see cref="SiloServiceCollectionExtensions.AddGrainSilo"/> (in a host).
/// </summary>
public sealed class Silo : IAsyncDisposable
{
    private readonly SiloRuntime _runtime;
    private readonly ServiceProvider? _ownedProvider;
    private int _state; // 0 new, 1 started, 2 stopped

    internal Silo(SiloRuntime runtime, ServiceProvider? ownedProvider)
    {
        _runtime = runtime;
        _ownedProvider = ownedProvider;
    }

    /// <summary>The silo's services (the DI container grains are built from).</summary>
    public IServiceProvider Services => _runtime.Services;

    /// <summary>Gets grain references.</summary>
    public IGrainFactory GrainFactory => _runtime.GrainFactory;

    /// <summary>Per grain type counters.</summary>
    public ISiloStatistics Statistics => _runtime;

    /// <summary>The options in force.</summary>
    public SiloOptions Options => _runtime.Options;

    /// <summary>Validates grain interfaces (serializable types) and starts serving.</summary>
    /// <exception cref="GrainSerializationException">A grain interface uses a type that cannot cross the wire.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) throw new InvalidOperationException("The silo was already started.");
        _runtime.Start();
        return Task.CompletedTask;
    }

    /// <summary>Deactivates every activation (running OnDeactivateAsync) and stops.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _state, 2) != 1) return;
        await _runtime.StopAsync(cancellationToken).ConfigureAwait(false);
        _runtime.Dispose();
    }

    /// <summary>Stops the silo (with a 30 s bound) and disposes a container it built itself.</summary>
    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30))) await StopAsync(timeout.Token).ConfigureAwait(false);
        _runtime.Dispose();
        if (_ownedProvider is not null) await _ownedProvider.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Runs a silo inside a generic host.</summary>
internal sealed class SiloHostedService(Silo silo) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => silo.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => silo.StopAsync(cancellationToken);
}
