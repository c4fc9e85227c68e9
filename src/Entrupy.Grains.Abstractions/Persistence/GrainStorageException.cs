namespace Entrupy.Grains.Persistence;

/// <summary>
/// Thrown when a store fails in a way that retrying will not fix by itself: a corrupt or foreign file, a schema this
/// build does not understand, a store that was disposed. Transient failures use <see cref="StorageUnavailableException"/>
/// and ETag conflicts <see cref="InconsistentStateException"/>.
/// </summary>
public sealed class GrainStorageException : Exception
{
    /// <summary>Creates the exception.</summary>
    public GrainStorageException(string message, Exception? inner = null) : base(message, inner) { }
}
