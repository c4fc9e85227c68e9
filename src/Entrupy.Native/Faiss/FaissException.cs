namespace Entrupy.Native.Faiss;

/// <summary>An error reported by FAISS itself (its own message is kept in <see cref="NativeMessage"/>).</summary>
public sealed class FaissException : Exception
{
    /// <summary>Creates the exception for a failed operation with FAISS's message.</summary>
    /// <param name="operation">What was being done, e.g. "index_factory".</param>
    /// <param name="nativeMessage">The text FAISS (or the shim) reported.</param>
    public FaissException(string operation, string nativeMessage)
        : base($"FAISS {operation} failed: {nativeMessage}")
    {
        Operation = operation;
        NativeMessage = nativeMessage;
    }

    /// <summary>The operation that failed.</summary>
    public string Operation { get; }

    /// <summary>FAISS's own error text.</summary>
    public string NativeMessage { get; }
}
