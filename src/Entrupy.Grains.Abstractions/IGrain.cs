namespace Entrupy.Grains;

/// <summary>Marker for grain interfaces. Use <see cref="IGrainWithStringKey"/> or <see cref="IGrainWithIntegerKey"/>.</summary>
/// <remarks>
/// Every method of a grain interface returns <see cref="Task"/>, <see cref="Task{TResult}"/>, <see cref="ValueTask"/> or
/// <see cref="ValueTask{TResult}"/>; every argument and result must round-trip through System.Text.Json, because a call
/// may cross a wire once there are several silos. A <see cref="CancellationToken"/> parameter is allowed and propagated.
/// </remarks>
public interface IGrain
{
}

/// <summary>A grain identified by a string key.</summary>
public interface IGrainWithStringKey : IGrain
{
}

/// <summary>A grain identified by a 64-bit integer key.</summary>
public interface IGrainWithIntegerKey : IGrain
{
}

/// <summary>
/// Hands out grain references. A reference is only a <see cref="GrainId"/> plus generated call plumbing: creating one is
/// cheap, activates nothing, and it works from anywhere (grains, request handlers, background services, tests).
/// </summary>
public interface IGrainFactory
{
    /// <summary>Gets a reference to the grain with a string key.</summary>
    TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey;

    /// <summary>Gets a reference to the grain with an integer key.</summary>
    TGrainInterface GetGrain<TGrainInterface>(long key) where TGrainInterface : IGrainWithIntegerKey;

    /// <summary>Gets a reference to a grain by interface type and id (used by serializers and tools).</summary>
    IGrain GetGrain(Type grainInterfaceType, GrainId grainId);
}
