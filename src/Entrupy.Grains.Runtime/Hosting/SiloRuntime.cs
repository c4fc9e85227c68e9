using System.Collections.Concurrent;
using Entrupy.Grains.Invocation;
using Entrupy.Grains.Runtime.Activations;
using Entrupy.Grains.Runtime.Cluster;
using Entrupy.Grains.Runtime.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Entrupy.Grains.Runtime;

/// <summary>The grain classes a silo hosts (filled by <see cref="SiloBuilder"/>).</summary>
internal sealed class GrainClassRegistrations
{
    public List<Type> GrainClasses { get; } = [];
}

/// <summary>The parts of a running silo, wired together; one per silo.</summary>
internal sealed class SiloRuntime : ISiloStatistics, IDisposable
{
    private readonly Dictionary<string, GrainClassInfo> _byGrainType = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Type, string> _grainTypeByInterface = new();
    private readonly ILogger _logger;
    private Timer? _collector;

    public SiloRuntime(IServiceProvider services, SiloOptions options, GrainClassRegistrations registrations, LocalSiloDetails localSilo,
        IPlacementDirector placement, IGrainDirectory directory, IMessageTransport transport, ILoggerFactory loggerFactory)
    {
        Services = services;
        Options = options;
        LocalSilo = localSilo;
        Placement = placement;
        Directory = directory;
        Transport = transport;
        _logger = loggerFactory.CreateLogger("Entrupy.Grains.Silo");
        Catalog = new ActivationCatalog(this);
        Dispatcher = new GrainCallDispatcher(this);
        GrainFactory = new GrainFactory(this);
        Serializer = new GrainSerializer(options, GrainFactory);
        Timeouts = new ResponseTimeouts();

        foreach (var grainClass in registrations.GrainClasses.Distinct())
        {
            var info = GrainClassInfo.Create(grainClass, options);
            if (!_byGrainType.TryAdd(info.GrainType, info))
                throw new InvalidOperationException(
                    $"Grain classes {_byGrainType[info.GrainType].GrainClass} and {grainClass} share the grain type name '{info.GrainType}': give one a [GrainType].");
            foreach (var grainInterface in info.Interfaces)
            {
                if (!_grainTypeByInterface.TryAdd(grainInterface, info.GrainType))
                    throw new InvalidOperationException(
                        $"Grain interface {grainInterface} is implemented by both {_byGrainType[_grainTypeByInterface[grainInterface]].GrainClass} and {grainClass}: " +
                        "one grain class per interface.");
            }
        }
    }

    public IServiceProvider Services { get; }

    public SiloOptions Options { get; }

    public LocalSiloDetails LocalSilo { get; }

    public IPlacementDirector Placement { get; }

    public IGrainDirectory Directory { get; }

    public IMessageTransport Transport { get; }

    public ActivationCatalog Catalog { get; }

    public GrainCallDispatcher Dispatcher { get; }

    public GrainFactory GrainFactory { get; }

    public GrainSerializer Serializer { get; }

    public ResponseTimeouts Timeouts { get; }

    public IEnumerable<GrainClassInfo> GrainClasses => _byGrainType.Values;

    /// <summary>Validates the grain interfaces and starts idle collection.</summary>
    public void Start()
    {
        if (Options.ValidateSerializableTypesAtStartup)
        {
            foreach (var grainInterface in _grainTypeByInterface.Keys)
                foreach (var method in GrainProxyRegistry.Get(grainInterface).Methods)
                    Serializer.Validate(method);
        }
        var smallestIdle = _byGrainType.Values.Select(c => c.IdleTimeout).DefaultIfEmpty(Options.ActivationIdleTimeout).Min();
        var interval = Options.CollectionInterval ??
                       TimeSpan.FromTicks(Math.Clamp(smallestIdle.Ticks / 4, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromMinutes(1).Ticks));
        _collector = new Timer(static s => ((SiloRuntime)s!).Catalog.CollectIdle(), this, interval, interval);
    }

    /// <summary>Deactivates every activation and waits for them (bounded by <paramref name="cancellationToken"/>).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _collector?.Dispose();
        var pending = new List<Task>();
        foreach (var activation in Catalog.All().ToList())
        {
            // Still activating: it will not be asked twice; it is dropped with the silo (its OnDeactivateAsync is skipped).
            if (activation.RequestDeactivation(DeactivationReason.ShuttingDown) || activation.State == ActivationState.Deactivating)
                pending.Add(activation.Deactivated);
        }
        try
        {
            await Task.WhenAll(pending).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _logger.LogWarning("Silo stop: some activations did not finish deactivating in time.");
        }
    }

    public GrainClassInfo GetClassInfo(string grainType)
        => _byGrainType.TryGetValue(grainType, out var info) ? info : throw new InvalidOperationException(
            $"This silo hosts no grain type '{grainType}'. Register its grain class with SiloBuilder.AddGrain.");

    public string GrainTypeOf(Type grainInterface)
        => _grainTypeByInterface.TryGetValue(grainInterface, out var type) ? type : throw new ArgumentException(
            $"No grain class registered with this silo implements {grainInterface}. Register one with SiloBuilder.AddGrain.");

    public IReadOnlyList<GrainTypeStatistics> GetGrainTypeStatistics()
        => _byGrainType.Values.Select(c => c.Counters.Snapshot()).OrderBy(s => s.GrainType, StringComparer.Ordinal).ToList();

    public void LogActivationFailure(Activation activation, Exception ex) => _logger.LogError(ex, "Activation of grain {GrainId} failed.", activation.GrainId);

    public void LogDeactivationFailure(Activation activation, Exception ex) => _logger.LogError(ex, "OnDeactivateAsync of grain {GrainId} failed.", activation.GrainId);

    public void LogTimerFailure(Activation activation, Exception ex) => _logger.LogError(ex, "A timer callback of grain {GrainId} failed.", activation.GrainId);

    public void LogUnhandled(Activation activation, Exception ex) => _logger.LogError(ex, "Unhandled exception in a continuation of grain {GrainId}.", activation.GrainId);

    public void Dispose()
    {
        _collector?.Dispose();
        Timeouts.Dispose();
    }
}

/// <summary>The silo's <see cref="IGrainFactory"/>: a reference is the generated proxy over a grain id.</summary>
internal sealed class GrainFactory(SiloRuntime runtime) : IGrainFactory
{
    public TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey
    {
        ArgumentNullException.ThrowIfNull(key);
        return (TGrainInterface)(object)Proxies<TGrainInterface>.Entry.Factory(runtime.Dispatcher, new GrainId(runtime.GrainTypeOf(typeof(TGrainInterface)), key));
    }

    public TGrainInterface GetGrain<TGrainInterface>(long key) where TGrainInterface : IGrainWithIntegerKey
        => (TGrainInterface)(object)Proxies<TGrainInterface>.Entry.Factory(runtime.Dispatcher, GrainId.FromInteger(runtime.GrainTypeOf(typeof(TGrainInterface)), key));

    public IGrain GetGrain(Type grainInterfaceType, GrainId grainId)
    {
        if (!grainInterfaceType.IsInterface || !typeof(IGrain).IsAssignableFrom(grainInterfaceType))
            throw new ArgumentException($"{grainInterfaceType} is not a grain interface.", nameof(grainInterfaceType));
        return (IGrain)GrainProxyRegistry.Get(grainInterfaceType).Factory(runtime.Dispatcher, grainId);
    }

    private static class Proxies<T>
    {
        public static readonly GrainProxyRegistry.Entry Entry = GrainProxyRegistry.Get(typeof(T));
    }
}
