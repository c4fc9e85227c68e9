using Entrupy.Grains.Invocation;

namespace Entrupy.Grains;

/// <summary>Key access on grain references and grain instances alike.</summary>
public static class GrainExtensions
{
    /// <summary>The grain id of a grain reference or grain instance.</summary>
    public static GrainId GetGrainId(this IGrain grain) => grain switch
    {
        GrainReference reference => reference.GrainId,
        Grain instance => instance.GrainId,
        _ => throw new ArgumentException($"{grain.GetType()} is neither a grain reference nor a grain.", nameof(grain)),
    };

    /// <summary>The key of a string-keyed grain reference or instance.</summary>
    public static string GetPrimaryKeyString(this IGrainWithStringKey grain) => grain.GetGrainId().Key;

    /// <summary>The key of an integer-keyed grain reference or instance.</summary>
    public static long GetPrimaryKeyLong(this IGrainWithIntegerKey grain) => grain.GetGrainId().GetIntegerKey();
}
