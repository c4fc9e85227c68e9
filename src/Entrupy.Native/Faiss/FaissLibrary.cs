namespace Entrupy.Native.Faiss;

/// <summary>Process-wide facts and settings of the FAISS library linked into our shim.</summary>
public static class FaissLibrary
{
    /// <summary>FAISS version the shim was built against, e.g. "1.7.3".</summary>
    public static string Version
    {
        get
        {
            FaissNative.Check(FaissNative.Version(out var major, out var minor, out var patch), "version");
            return $"{major}.{minor}.{patch}";
        }
    }

    /// <summary>
    /// OpenMP threads used by batch calls (several queries, add, train); 0 restores the default of one per core.
    /// Calls with a single query always run on the calling thread alone: a parallel region costs more than it saves there.
    /// </summary>
    public static int ThreadCount
    {
        get
        {
            FaissNative.Check(FaissNative.GetNumThreads(out var threads), "get thread count");
            return threads;
        }
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            FaissNative.Check(FaissNative.SetNumThreads(value), "set thread count");
        }
    }
}
