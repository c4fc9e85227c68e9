using System.Collections.Concurrent;
using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Entrupy.Grains.Invocation;

/// <summary>
/// Where generated code registers the reference (proxy) factory and method descriptors of each grain interface.
/// Generated module initializers fill it; lookups force the declaring module's initializer if needed.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GrainProxyRegistry
{
    private static readonly ConcurrentDictionary<Type, Entry> Entries = new();

    /// <summary>A registered interface.</summary>
    /// <param name="Factory">Creates a reference.</param>
    /// <param name="Methods">Every method of the interface (inherited grain interfaces included).</param>
    public sealed record Entry(Func<IGrainCallInvoker, GrainId, GrainReference> Factory, IReadOnlyList<GrainMethodDescriptor> Methods);

    /// <summary>Registers a grain interface (called by generated code).</summary>
    public static void Register(Type grainInterface, Func<IGrainCallInvoker, GrainId, GrainReference> factory, GrainMethodDescriptor[] methods)
        => Entries[grainInterface] = new Entry(factory, methods);

    /// <summary>Finds the registration of a grain interface, or null when no generated code exists for it.</summary>
    public static Entry? Find(Type grainInterface)
    {
        if (Entries.TryGetValue(grainInterface, out var entry)) return entry;
        // Module initializers run lazily; touching the module runs the generated registration.
        RuntimeHelpers.RunModuleConstructor(grainInterface.Module.ModuleHandle);
        return Entries.TryGetValue(grainInterface, out entry) ? entry : null;
    }

    /// <summary>Like <see cref="Find"/> but throws a message that says how to fix a missing registration.</summary>
    public static Entry Get(Type grainInterface) => Find(grainInterface) ?? throw new InvalidOperationException(
        $"No generated grain reference for {grainInterface}. The project declaring it must reference Entrupy.Grains.CodeGenerator " +
        "as an analyzer (OutputItemType=\"Analyzer\" ReferenceOutputAssembly=\"false\"), and the interface must extend " +
        "IGrainWithStringKey or IGrainWithIntegerKey.");
}
