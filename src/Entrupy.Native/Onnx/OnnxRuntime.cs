using System.Text;

namespace Entrupy.Native.Onnx;

/// <summary>
/// Process-wide access to the shipped ONNX Runtime library: its version and the shared environment that every
/// <see cref="OnnxSession"/> is created in. Everything is created lazily on first use and lives until the process ends.
/// </summary>
public static class OnnxRuntime
{
    /// <summary>ORT logging level used for the shared environment: errors and worse (ORT_LOGGING_LEVEL_ERROR).</summary>
    private const int LoggingLevelError = 3;

    // Lazy<T> with ExecutionAndPublication: exactly one environment per process, and a load failure is rethrown
    // to every caller instead of leaving a half-initialised state.
    private static readonly Lazy<OrtApi> LazyApi = new(OrtApi.Load, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<OrtEnvironment> LazyEnvironment = new(OrtEnvironment.Create, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Version of the loaded ONNX Runtime library as it reports it (for example <c>1.30.0</c>).</summary>
    public static string Version => LazyApi.Value.Version;

    /// <summary>Full path of the loaded ONNX Runtime library.</summary>
    public static string LibraryPath => LazyApi.Value.LibraryPath;

    /// <summary>The C API version this binding asks the library for.</summary>
    public static int ApiVersion => (int)OrtApi.ApiVersion;

    internal static OrtApi Api => LazyApi.Value;

    internal static OrtEnvironment Environment => LazyEnvironment.Value;

    /// <summary>
    /// The process-wide native objects shared by all sessions. Deliberately never released: ORT's environment must
    /// outlive every session, and tearing it down during process exit races with finalizers.
    /// </summary>
    internal sealed unsafe class OrtEnvironment
    {
        internal nint Env { get; }

        /// <summary>CPU memory description for tensors that wrap managed buffers.</summary>
        internal nint CpuMemoryInfo { get; }

        /// <summary>ORT's default allocator, used to free the strings ORT hands back. Owned by ORT; never released.</summary>
        internal nint DefaultAllocator { get; }

        private OrtEnvironment(nint env, nint cpuMemoryInfo, nint defaultAllocator)
        {
            Env = env;
            CpuMemoryInfo = cpuMemoryInfo;
            DefaultAllocator = defaultAllocator;
        }

        internal static OrtEnvironment Create()
        {
            var api = LazyApi.Value;
            nint env;
            fixed (byte* logId = "entrupy\0"u8)
            {
                api.Check(api.CreateEnv(LoggingLevelError, logId, &env), "creating the ONNX Runtime environment");
            }

            nint memoryInfo;
            // OrtArenaAllocator = 1, OrtMemTypeDefault = 0.
            api.Check(api.CreateCpuMemoryInfo(1, 0, &memoryInfo), "creating the CPU memory info");

            nint allocator;
            api.Check(api.GetAllocatorWithDefaultOptions(&allocator), "getting the default allocator");
            return new OrtEnvironment(env, memoryInfo, allocator);
        }
    }

    /// <summary>Null-terminated UTF-8 bytes of <paramref name="text"/>, ready to pin and hand to ORT.</summary>
    internal static byte[] Utf8Z(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }
}
