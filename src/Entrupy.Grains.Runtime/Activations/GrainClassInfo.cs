using System.Reflection;
using Entrupy.Grains.Invocation;
using Entrupy.Grains.Persistence;
using Entrupy.Grains.Runtime.Statistics;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Grains.Runtime.Activations;

/// <summary>What the silo knows about one grain class, computed once at start-up (no reflection per call).</summary>
internal sealed class GrainClassInfo
{
    private readonly ObjectFactory _factory;
    private readonly PersistentParameter[] _persistentParameters;

    private GrainClassInfo(Type grainClass, string grainType, ObjectFactory factory, PersistentParameter[] persistentParameters,
        IReadOnlyList<Type> interfaces, SiloOptions options)
    {
        GrainClass = grainClass;
        GrainType = grainType;
        _factory = factory;
        _persistentParameters = persistentParameters;
        Interfaces = interfaces;
        IsReentrant = grainClass.IsDefined(typeof(ReentrantAttribute), inherit: true);
        var worker = grainClass.GetCustomAttribute<StatelessWorkerAttribute>(inherit: true);
        IsStatelessWorker = worker is not null;
        MaxLocalWorkers = worker is null ? 1 : worker.MaxLocalWorkers > 0 ? worker.MaxLocalWorkers : Math.Max(1, options.DefaultMaxLocalWorkers);
        IdleTimeout = grainClass.GetCustomAttribute<CollectionAgeLimitAttribute>(inherit: true)?.IdleTime ?? options.ActivationIdleTimeout;
        Counters = new GrainTypeCounters(grainType);
    }

    public Type GrainClass { get; }

    /// <summary>Stable grain type name, the <see cref="GrainId.Type"/> of its grains.</summary>
    public string GrainType { get; }

    /// <summary>The grain interfaces the class implements.</summary>
    public IReadOnlyList<Type> Interfaces { get; }

    public bool IsReentrant { get; }

    public bool IsStatelessWorker { get; }

    public int MaxLocalWorkers { get; }

    public TimeSpan IdleTimeout { get; }

    public GrainTypeCounters Counters { get; }

    /// <summary>The stable name of a grain class: [GrainType], else the class name less "Grain", lower-cased.</summary>
    public static string GrainTypeNameOf(Type grainClass)
    {
        var explicitName = grainClass.GetCustomAttribute<GrainTypeAttribute>(inherit: false)?.Name;
        if (explicitName is not null) return explicitName;
        var name = grainClass.Name;
        var tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        if (name.EndsWith("Grain", StringComparison.Ordinal) && name.Length > "Grain".Length) name = name[..^"Grain".Length];
        return name.ToLowerInvariant();
    }

    public static GrainClassInfo Create(Type grainClass, SiloOptions options)
    {
        if (!typeof(Grain).IsAssignableFrom(grainClass) || grainClass.IsAbstract || grainClass.IsGenericTypeDefinition)
            throw new ArgumentException($"{grainClass} is not a concrete class deriving from Entrupy.Grains.Grain.", nameof(grainClass));
        var interfaces = grainClass.GetInterfaces()
            .Where(i => typeof(IGrain).IsAssignableFrom(i) && i != typeof(IGrain) && i != typeof(IGrainWithStringKey) && i != typeof(IGrainWithIntegerKey))
            .ToList();
        if (interfaces.Count == 0)
            throw new ArgumentException($"Grain class {grainClass} implements no grain interface (an interface extending IGrainWithStringKey or IGrainWithIntegerKey).");
        foreach (var i in interfaces) GrainProxyRegistry.Get(i); // fails early, with the fix, when code generation is missing

        var constructor = grainClass.GetConstructors()
            .OrderByDescending(c => c.IsDefined(typeof(ActivatorUtilitiesConstructorAttribute)))
            .ThenByDescending(c => c.GetParameters().Length)
            .FirstOrDefault() ?? throw new ArgumentException($"Grain class {grainClass} has no public constructor.");
        var persistent = new List<PersistentParameter>();
        foreach (var parameter in constructor.GetParameters())
        {
            var attribute = parameter.GetCustomAttribute<PersistentStateAttribute>();
            if (attribute is null) continue;
            var type = parameter.ParameterType;
            if (!type.IsGenericType || type.GetGenericTypeDefinition() != typeof(IPersistentState<>))
                throw new ArgumentException($"Parameter '{parameter.Name}' of {grainClass} has [PersistentState] but is not IPersistentState<T>.");
            persistent.Add(new PersistentParameter(type, type.GetGenericArguments()[0], attribute));
        }
        var factory = ActivatorUtilities.CreateFactory(grainClass, persistent.Select(p => p.ParameterType).ToArray());
        return new GrainClassInfo(grainClass, GrainTypeNameOf(grainClass), factory, persistent.ToArray(), interfaces, options);
    }

    /// <summary>Constructs an instance through DI, filling [PersistentState] parameters from the registered factory.</summary>
    public (Grain Grain, IStorage[] States) Construct(IServiceProvider services, GrainId grainId)
    {
        var states = new IStorage[_persistentParameters.Length];
        if (states.Length > 0)
        {
            var stateFactory = services.GetService<IPersistentStateFactory>() ?? throw new InvalidOperationException(
                $"Grain class {GrainClass} has [PersistentState] parameters but no IPersistentStateFactory is registered: " +
                "add a storage provider to the silo's services.");
            for (var i = 0; i < states.Length; i++)
            {
                var p = _persistentParameters[i];
                var state = stateFactory.Create(GrainType, grainId.Key, p.StateType, p.Attribute);
                if (!p.ParameterType.IsInstanceOfType(state))
                    throw new InvalidOperationException($"The persistent state factory returned {state.GetType()} for {p.ParameterType} of {GrainClass}.");
                states[i] = state;
            }
        }
        var grain = (Grain)_factory(services, states.Length == 0 ? null : states);
        return (grain, states);
    }

    private sealed record PersistentParameter(Type ParameterType, Type StateType, PersistentStateAttribute Attribute);
}
