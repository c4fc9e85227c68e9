using Microsoft.ML.OnnxRuntime;

namespace Entrupy.Native.Onnx;

/// <summary>
/// Process-wide facts about the ONNX Runtime that ships with the <c>Microsoft.ML.OnnxRuntime</c> package: its version,
/// where its library was loaded from, and the shared environment that every <see cref="OnnxSession"/> is created in.
/// </summary>
public static class OnnxRuntime
{
    // Lazy<T> with ExecutionAndPublication: exactly one environment per process, and a load failure is rethrown to
    // every caller instead of leaving a half-initialised state.
    private static readonly Lazy<OrtEnv> LazyEnvironment = new(CreateEnvironment, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<string> LazyLibraryPath = new(FindLoadedLibrary, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Version of the loaded ONNX Runtime library as it reports it (for example <c>1.32.0</c>).</summary>
    public static string Version => Environment.GetVersionString();

    /// <summary>Full path of the loaded ONNX Runtime library (the package's <c>runtimes/linux-x64/native/libonnxruntime.so</c>).</summary>
    public static string LibraryPath => LazyLibraryPath.Value;

    /// <summary>The shared environment; created, and the native library loaded, on first use.</summary>
    internal static OrtEnv Environment => LazyEnvironment.Value;

    private static OrtEnv CreateEnvironment()
    {
        // Errors and worse only: ORT's warnings (e.g. about unused initializers) would go to stdout otherwise.
        // If some other code created the environment first, it is the process's one and is used as it is.
        if (OrtEnv.IsCreated) return OrtEnv.Instance();
        var options = new EnvironmentCreationOptions { logId = "entrupy", logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        return OrtEnv.CreateInstanceWithOptions(ref options);
    }

    /// <summary>Reads the library's path from the process's memory map: the package loads it itself, by name, and does not say where from.</summary>
    private static string FindLoadedLibrary()
    {
        _ = Environment; // make sure the library is loaded
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var at = line.IndexOf('/');
            if (at >= 0 && Path.GetFileName(line.AsSpan(at)).StartsWith("libonnxruntime.so", StringComparison.Ordinal))
                return line[at..];
        }
        throw new DllNotFoundException("ONNX Runtime reports itself loaded but no libonnxruntime.so is mapped into this process.");
    }
}
