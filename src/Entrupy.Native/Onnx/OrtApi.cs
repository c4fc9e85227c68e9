using System.Runtime.InteropServices;

namespace Entrupy.Native.Onnx;

/// <summary>
/// The slice of ONNX Runtime's <c>OrtApi</c> function table that this binding uses, read once from the loaded library.
/// </summary>
/// <remarks>
/// Slot numbers are indexes into the table (<c>offsetof(OrtApi, X) / sizeof(void*)</c>), computed with gcc from
/// <c>onnxruntime_c_api.h</c>; the table only ever grows at its end, so they hold for every later release.
/// Every <c>OrtStatus*</c>-returning function means success when it returns null.
/// </remarks>
internal sealed unsafe class OrtApi
{
    /// <summary>API version requested from <c>OrtGetApiBase()->GetApi</c>: the pinned ONNX Runtime 1.30.</summary>
    internal const uint ApiVersion = 30;

    internal static class Slot
    {
        internal const int GetErrorCode = 1;
        internal const int GetErrorMessage = 2;
        internal const int CreateEnv = 3;
        internal const int CreateSession = 7;
        internal const int CreateSessionFromArray = 8;
        internal const int Run = 9;
        internal const int CreateSessionOptions = 10;
        internal const int SetSessionExecutionMode = 13;
        internal const int SetSessionGraphOptimizationLevel = 23;
        internal const int SetIntraOpNumThreads = 24;
        internal const int SetInterOpNumThreads = 25;
        internal const int SessionGetInputCount = 30;
        internal const int SessionGetOutputCount = 31;
        internal const int SessionGetInputTypeInfo = 33;
        internal const int SessionGetOutputTypeInfo = 34;
        internal const int SessionGetInputName = 36;
        internal const int SessionGetOutputName = 37;
        internal const int CreateRunOptions = 39;
        internal const int RunOptionsSetTerminate = 46;
        internal const int CreateTensorWithDataAsOrtValue = 49;
        internal const int GetTensorMutableData = 51;
        internal const int CastTypeInfoToTensorInfo = 55;
        internal const int GetTensorElementType = 60;
        internal const int GetDimensionsCount = 61;
        internal const int GetDimensions = 62;
        internal const int GetTensorShapeElementCount = 64;
        internal const int GetTensorTypeAndShape = 65;
        internal const int CreateCpuMemoryInfo = 69;
        internal const int AllocatorFree = 76;
        internal const int GetAllocatorWithDefaultOptions = 78;
        internal const int ReleaseStatus = 93;
        internal const int ReleaseSession = 95;
        internal const int ReleaseValue = 96;
        internal const int ReleaseRunOptions = 97;
        internal const int ReleaseTypeInfo = 98;
        internal const int ReleaseTensorTypeAndShapeInfo = 99;
        internal const int ReleaseSessionOptions = 100;
        internal const int AddSessionConfigEntry = 130;
    }

    // OrtErrorCode (OrtStatus*)
    internal readonly delegate* unmanaged[Cdecl]<nint, int> GetErrorCode;
    // const char* (OrtStatus*): owned by the status.
    internal readonly delegate* unmanaged[Cdecl]<nint, byte*> GetErrorMessage;
    // (OrtLoggingLevel, const char* logid, OrtEnv** out)
    internal readonly delegate* unmanaged[Cdecl]<int, byte*, nint*, nint> CreateEnv;
    // (const OrtEnv*, const char* model_path, const OrtSessionOptions*, OrtSession** out)
    internal readonly delegate* unmanaged[Cdecl]<nint, byte*, nint, nint*, nint> CreateSession;
    // (const OrtEnv*, const void* model_data, size_t length, const OrtSessionOptions*, OrtSession** out)
    internal readonly delegate* unmanaged[Cdecl]<nint, void*, nuint, nint, nint*, nint> CreateSessionFromArray;
    // (OrtSession*, const OrtRunOptions*, const char* const* input_names, const OrtValue* const* inputs, size_t input_len,
    //  const char* const* output_names, size_t output_len, OrtValue** outputs)
    internal readonly delegate* unmanaged[Cdecl]<nint, nint, byte**, nint*, nuint, byte**, nuint, nint*, nint> Run;
    internal readonly delegate* unmanaged[Cdecl]<nint*, nint> CreateSessionOptions;
    internal readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetSessionExecutionMode;
    internal readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetSessionGraphOptimizationLevel;
    internal readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetIntraOpNumThreads;
    internal readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetInterOpNumThreads;
    internal readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> SessionGetInputCount;
    internal readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> SessionGetOutputCount;
    // (const OrtSession*, size_t index, OrtTypeInfo** out): release with ReleaseTypeInfo.
    internal readonly delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint> SessionGetInputTypeInfo;
    internal readonly delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint> SessionGetOutputTypeInfo;
    // (const OrtSession*, size_t index, OrtAllocator*, char** out): free with AllocatorFree.
    internal readonly delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint> SessionGetInputName;
    internal readonly delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint> SessionGetOutputName;
    internal readonly delegate* unmanaged[Cdecl]<nint*, nint> CreateRunOptions;
    internal readonly delegate* unmanaged[Cdecl]<nint, nint> RunOptionsSetTerminate;
    // (const OrtMemoryInfo*, void* data, size_t data_len_bytes, const int64_t* shape, size_t shape_len,
    //  ONNXTensorElementDataType, OrtValue** out): does not copy the data.
    internal readonly delegate* unmanaged[Cdecl]<nint, void*, nuint, long*, nuint, int, nint*, nint> CreateTensorWithDataAsOrtValue;
    internal readonly delegate* unmanaged[Cdecl]<nint, void**, nint> GetTensorMutableData;
    // (const OrtTypeInfo*, const OrtTensorTypeAndShapeInfo** out): out is owned by the type info, null for non-tensors.
    internal readonly delegate* unmanaged[Cdecl]<nint, nint*, nint> CastTypeInfoToTensorInfo;
    internal readonly delegate* unmanaged[Cdecl]<nint, int*, nint> GetTensorElementType;
    internal readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> GetDimensionsCount;
    internal readonly delegate* unmanaged[Cdecl]<nint, long*, nuint, nint> GetDimensions;
    internal readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> GetTensorShapeElementCount;
    // (const OrtValue*, OrtTensorTypeAndShapeInfo** out): release with ReleaseTensorTypeAndShapeInfo.
    internal readonly delegate* unmanaged[Cdecl]<nint, nint*, nint> GetTensorTypeAndShape;
    // (OrtAllocatorType, OrtMemType, OrtMemoryInfo** out)
    internal readonly delegate* unmanaged[Cdecl]<int, int, nint*, nint> CreateCpuMemoryInfo;
    internal readonly delegate* unmanaged[Cdecl]<nint, void*, nint> AllocatorFree;
    internal readonly delegate* unmanaged[Cdecl]<nint*, nint> GetAllocatorWithDefaultOptions;
    internal readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseStatus;
    internal readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseSession;
    internal readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseValue;
    internal readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseRunOptions;
    internal readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseTypeInfo;
    internal readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseTensorTypeAndShapeInfo;
    internal readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseSessionOptions;
    // (OrtSessionOptions*, const char* key, const char* value)
    internal readonly delegate* unmanaged[Cdecl]<nint, byte*, byte*, nint> AddSessionConfigEntry;

    /// <summary>Version string of the loaded library, e.g. "1.30.0".</summary>
    internal string Version { get; }

    /// <summary>Full path of the loaded library.</summary>
    internal string LibraryPath { get; }

    private OrtApi(string libraryPath, string version, nint* table)
    {
        LibraryPath = libraryPath;
        Version = version;
        GetErrorCode = (delegate* unmanaged[Cdecl]<nint, int>)table[Slot.GetErrorCode];
        GetErrorMessage = (delegate* unmanaged[Cdecl]<nint, byte*>)table[Slot.GetErrorMessage];
        CreateEnv = (delegate* unmanaged[Cdecl]<int, byte*, nint*, nint>)table[Slot.CreateEnv];
        CreateSession = (delegate* unmanaged[Cdecl]<nint, byte*, nint, nint*, nint>)table[Slot.CreateSession];
        CreateSessionFromArray = (delegate* unmanaged[Cdecl]<nint, void*, nuint, nint, nint*, nint>)table[Slot.CreateSessionFromArray];
        Run = (delegate* unmanaged[Cdecl]<nint, nint, byte**, nint*, nuint, byte**, nuint, nint*, nint>)table[Slot.Run];
        CreateSessionOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)table[Slot.CreateSessionOptions];
        SetSessionExecutionMode = (delegate* unmanaged[Cdecl]<nint, int, nint>)table[Slot.SetSessionExecutionMode];
        SetSessionGraphOptimizationLevel = (delegate* unmanaged[Cdecl]<nint, int, nint>)table[Slot.SetSessionGraphOptimizationLevel];
        SetIntraOpNumThreads = (delegate* unmanaged[Cdecl]<nint, int, nint>)table[Slot.SetIntraOpNumThreads];
        SetInterOpNumThreads = (delegate* unmanaged[Cdecl]<nint, int, nint>)table[Slot.SetInterOpNumThreads];
        SessionGetInputCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)table[Slot.SessionGetInputCount];
        SessionGetOutputCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)table[Slot.SessionGetOutputCount];
        SessionGetInputTypeInfo = (delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint>)table[Slot.SessionGetInputTypeInfo];
        SessionGetOutputTypeInfo = (delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint>)table[Slot.SessionGetOutputTypeInfo];
        SessionGetInputName = (delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint>)table[Slot.SessionGetInputName];
        SessionGetOutputName = (delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint>)table[Slot.SessionGetOutputName];
        CreateRunOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)table[Slot.CreateRunOptions];
        RunOptionsSetTerminate = (delegate* unmanaged[Cdecl]<nint, nint>)table[Slot.RunOptionsSetTerminate];
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged[Cdecl]<nint, void*, nuint, long*, nuint, int, nint*, nint>)table[Slot.CreateTensorWithDataAsOrtValue];
        GetTensorMutableData = (delegate* unmanaged[Cdecl]<nint, void**, nint>)table[Slot.GetTensorMutableData];
        CastTypeInfoToTensorInfo = (delegate* unmanaged[Cdecl]<nint, nint*, nint>)table[Slot.CastTypeInfoToTensorInfo];
        GetTensorElementType = (delegate* unmanaged[Cdecl]<nint, int*, nint>)table[Slot.GetTensorElementType];
        GetDimensionsCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)table[Slot.GetDimensionsCount];
        GetDimensions = (delegate* unmanaged[Cdecl]<nint, long*, nuint, nint>)table[Slot.GetDimensions];
        GetTensorShapeElementCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)table[Slot.GetTensorShapeElementCount];
        GetTensorTypeAndShape = (delegate* unmanaged[Cdecl]<nint, nint*, nint>)table[Slot.GetTensorTypeAndShape];
        CreateCpuMemoryInfo = (delegate* unmanaged[Cdecl]<int, int, nint*, nint>)table[Slot.CreateCpuMemoryInfo];
        AllocatorFree = (delegate* unmanaged[Cdecl]<nint, void*, nint>)table[Slot.AllocatorFree];
        GetAllocatorWithDefaultOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)table[Slot.GetAllocatorWithDefaultOptions];
        ReleaseStatus = (delegate* unmanaged[Cdecl]<nint, void>)table[Slot.ReleaseStatus];
        ReleaseSession = (delegate* unmanaged[Cdecl]<nint, void>)table[Slot.ReleaseSession];
        ReleaseValue = (delegate* unmanaged[Cdecl]<nint, void>)table[Slot.ReleaseValue];
        ReleaseRunOptions = (delegate* unmanaged[Cdecl]<nint, void>)table[Slot.ReleaseRunOptions];
        ReleaseTypeInfo = (delegate* unmanaged[Cdecl]<nint, void>)table[Slot.ReleaseTypeInfo];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged[Cdecl]<nint, void>)table[Slot.ReleaseTensorTypeAndShapeInfo];
        ReleaseSessionOptions = (delegate* unmanaged[Cdecl]<nint, void>)table[Slot.ReleaseSessionOptions];
        AddSessionConfigEntry = (delegate* unmanaged[Cdecl]<nint, byte*, byte*, nint>)table[Slot.AddSessionConfigEntry];
    }

    /// <summary>Loads the shipped ONNX Runtime library and reads its function table. The library is never unloaded.</summary>
    internal static OrtApi Load()
    {
        var path = NativeLibraries.Locate(NativeLibraries.OnnxRuntimeFileName);
        var library = NativeLibrary.Load(path);
        if (!NativeLibrary.TryGetExport(library, "OrtGetApiBase", out var getApiBaseExport))
            throw new EntryPointNotFoundException($"{path} does not export OrtGetApiBase: it is not an ONNX Runtime library.");

        var getApiBase = (delegate* unmanaged[Cdecl]<nint*>)getApiBaseExport;
        // OrtApiBase is { GetApi(uint32), GetVersionString() }.
        var apiBase = getApiBase();
        var getApi = (delegate* unmanaged[Cdecl]<uint, nint*>)apiBase[0];
        var getVersionString = (delegate* unmanaged[Cdecl]<byte*>)apiBase[1];
        var version = Marshal.PtrToStringUTF8((nint)getVersionString()) ?? "unknown";

        var table = getApi(ApiVersion);
        if (table == null)
            throw new DllNotFoundException(
                $"ONNX Runtime {version} at {path} does not provide C API version {ApiVersion}; this binding needs ONNX Runtime 1.{ApiVersion} or later.");
        return new OrtApi(path, version, table);
    }

    /// <summary>Throws <see cref="OnnxRuntimeException"/> carrying ORT's code and message if <paramref name="status"/> is a failure; always releases it.</summary>
    internal void Check(nint status, string operation)
    {
        if (status != 0) ThrowFailure(status, operation);
    }

    /// <summary>
    /// Releases a failed <paramref name="status"/> and throws it as <see cref="OnnxRuntimeException"/>. Hot paths call this
    /// only after testing the status, so they do not build the operation text on every successful call.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    internal void ThrowFailure(nint status, string operation)
    {
        int code;
        string message;
        try
        {
            code = GetErrorCode(status);
            message = Marshal.PtrToStringUTF8((nint)GetErrorMessage(status)) ?? "(no message)";
        }
        finally
        {
            ReleaseStatus(status);
        }
        throw new OnnxRuntimeException(operation, (OnnxErrorCode)code, message);
    }
}
