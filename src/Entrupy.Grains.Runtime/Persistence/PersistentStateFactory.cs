using System.Collections.Concurrent;
using System.Reflection;
using Entrupy.Grains.Persistence;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Grains.Runtime.Persistence;

/// <summary>
/// Resolves the named provider (a keyed <see cref="IGrainStorage"/> service) and builds a
/// <see cref="PersistentState{TState}"/> for the requested state type.
/// </summary>
internal sealed class PersistentStateFactory : IPersistentStateFactory
{
    private static readonly MethodInfo CreateTypedMethod =
        typeof(PersistentStateFactory).GetMethod(nameof(CreateTyped), BindingFlags.NonPublic | BindingFlags.Static)!;

    private readonly IServiceProvider _services;
    private readonly PersistentStateOptions _options;

    // One compiled constructor per state type: activation is a hot path, reflection is not.
    private readonly ConcurrentDictionary<Type, Func<IGrainStorage, GrainStateKey, PersistentStateOptions, IStorage>> _constructors = new();

    public PersistentStateFactory(IServiceProvider services, PersistentStateOptions options)
    {
        _services = services;
        _options = options;
    }

    public IStorage Create(string grainType, string grainKey, Type stateType, PersistentStateAttribute attribute)
    {
        ArgumentNullException.ThrowIfNull(grainType);
        ArgumentNullException.ThrowIfNull(grainKey);
        ArgumentNullException.ThrowIfNull(stateType);
        ArgumentNullException.ThrowIfNull(attribute);

        var storageName = attribute.StorageName ?? GrainStorageNames.Default;
        var storage = _services.GetKeyedService<IGrainStorage>(storageName)
            ?? throw new InvalidOperationException(
                $"No grain storage provider named '{storageName}' is registered (needed by {grainType}'s state '{attribute.StateName}'). " +
                "Register one with services.AddMemoryGrainStorage(name) or services.AddSqliteGrainStorage(name, ...).");

        var construct = _constructors.GetOrAdd(stateType, BuildConstructor);
        return construct(storage, new GrainStateKey(grainType, grainKey, attribute.StateName), _options);
    }

    private static Func<IGrainStorage, GrainStateKey, PersistentStateOptions, IStorage> BuildConstructor(Type stateType)
    {
        var hasParameterlessConstructor = stateType.IsValueType || stateType.GetConstructor(Type.EmptyTypes) is not null;
        if (stateType.IsAbstract || stateType.IsInterface || !hasParameterlessConstructor || stateType.ContainsGenericParameters)
        {
            throw new InvalidOperationException(
                $"State type {stateType.FullName} needs a public parameterless constructor: a grain with no stored record " +
                "starts from new TState(). Add one (for records: use init properties, or add an explicit parameterless constructor).");
        }

        return CreateTypedMethod.MakeGenericMethod(stateType)
            .CreateDelegate<Func<IGrainStorage, GrainStateKey, PersistentStateOptions, IStorage>>();
    }

    private static IStorage CreateTyped<TState>(IGrainStorage storage, GrainStateKey key, PersistentStateOptions options)
        where TState : new()
        => new PersistentState<TState>(storage, key, options.SerializerOptions);
}
