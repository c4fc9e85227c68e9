using System.Reflection;
using System.Runtime.InteropServices;

namespace Entrupy.Native;

/// <summary>
/// Finds the native library this project ships (our shim) next to the application, so nobody has to set
/// <c>LD_LIBRARY_PATH</c>. <c>ENTRUPY_NATIVE_DIR</c> overrides the folder. ONNX Runtime is not found here: the
/// <c>Microsoft.ML.OnnxRuntime</c> package ships and loads its own library (see <see cref="Onnx.OnnxRuntime.LibraryPath"/>).
/// </summary>
public static class NativeLibraries
{
    /// <summary>Name used in <c>[DllImport]</c> for our C++ shim (FAISS and image decoding).</summary>
    internal const string Shim = "entrupy_native";

    private static readonly object Gate = new();
    private static bool registered;

    /// <summary>Registers the resolver for this assembly's <c>[DllImport]</c>s. Safe to call many times.</summary>
    internal static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (registered) return;
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
            registered = true;
        }
    }

    /// <summary>The folders searched, in order.</summary>
    public static IReadOnlyList<string> SearchDirectories()
    {
        var dirs = new List<string>();
        var overrideDir = Environment.GetEnvironmentVariable("ENTRUPY_NATIVE_DIR");
        if (!string.IsNullOrWhiteSpace(overrideDir)) dirs.Add(overrideDir);
        dirs.Add(AppContext.BaseDirectory);
        var assemblyDir = Path.GetDirectoryName(typeof(NativeLibraries).Assembly.Location);
        if (!string.IsNullOrEmpty(assemblyDir) && !dirs.Contains(assemblyDir)) dirs.Add(assemblyDir);
        return dirs;
    }

    /// <summary>Full path of a shipped native library, or an exception that lists where it looked.</summary>
    public static string Locate(string fileName)
    {
        foreach (var dir in SearchDirectories())
        {
            var candidate = Path.Combine(dir, fileName);
            if (File.Exists(candidate)) return candidate;
        }
        throw new DllNotFoundException(
            $"{fileName} was not found in {string.Join(", ", SearchDirectories())}. " +
            "Build with eng/setup.sh (it builds the shim), or set ENTRUPY_NATIVE_DIR.");
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName == Shim) return NativeLibrary.Load(Locate("lib" + Shim + ".so"));
        return IntPtr.Zero;
    }
}
