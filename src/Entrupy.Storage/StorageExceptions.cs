namespace Entrupy.Storage;

/// <summary>
/// The store cannot be reached or failed in a way that may pass (a locked or full file, a stopped emulator, throttling).
/// The operation may or may not have happened; callers that retry must be idempotent. The API answers 503 with
/// <c>Retry-After</c>.
/// </summary>
[GenerateSerializer]
public sealed class StorageUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StorageUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>The store holds something this build cannot use (another program's file, a newer schema), or its writer failed.</summary>
[GenerateSerializer]
public sealed class GrainStorageException : Exception
{
    /// <summary>Creates the exception.</summary>
    public GrainStorageException(string message, Exception? inner = null) : base(message, inner) { }
}
