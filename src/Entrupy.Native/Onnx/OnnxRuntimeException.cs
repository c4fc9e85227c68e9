using System.Text.RegularExpressions;

namespace Entrupy.Native.Onnx;

/// <summary>ONNX Runtime's error codes (<c>OrtErrorCode</c>).</summary>
public enum OnnxErrorCode
{
    /// <summary>No error.</summary>
    Ok = 0,
    /// <summary>Generic failure.</summary>
    Fail = 1,
    /// <summary>An argument was rejected by ORT.</summary>
    InvalidArgument = 2,
    /// <summary>A file was not found.</summary>
    NoSuchFile = 3,
    /// <summary>No model was loaded.</summary>
    NoModel = 4,
    /// <summary>An execution engine error.</summary>
    EngineError = 5,
    /// <summary>An exception was raised inside ORT.</summary>
    RuntimeException = 6,
    /// <summary>The model is not a valid ONNX protobuf.</summary>
    InvalidProtobuf = 7,
    /// <summary>The model was already loaded.</summary>
    ModelLoaded = 8,
    /// <summary>The operation is not implemented.</summary>
    NotImplemented = 9,
    /// <summary>The model graph is invalid.</summary>
    InvalidGraph = 10,
    /// <summary>An execution provider failed.</summary>
    EpFail = 11,
}

/// <summary>An error reported by ONNX Runtime, with its own message and error code.</summary>
/// <remarks>
/// Kept rather than letting the package's own exception through: that one has neither a public error code nor the
/// operation that failed (e.g. which model file), and callers and tests match on both.
/// </remarks>
public sealed partial class OnnxRuntimeException : Exception
{
    /// <summary>Creates the exception for a failed ORT call.</summary>
    /// <param name="operation">What this binding was doing, e.g. "loading model /x/y.onnx".</param>
    /// <param name="errorCode">ORT's error code.</param>
    /// <param name="runtimeMessage">ORT's own error message.</param>
    public OnnxRuntimeException(string operation, OnnxErrorCode errorCode, string runtimeMessage)
        : base($"ONNX Runtime failed {operation}: [{errorCode}] {runtimeMessage}")
    {
        Operation = operation;
        ErrorCode = errorCode;
        RuntimeMessage = runtimeMessage;
    }

    private OnnxRuntimeException(string operation, OnnxErrorCode errorCode, string runtimeMessage, Exception inner)
        : base($"ONNX Runtime failed {operation}: [{errorCode}] {runtimeMessage}", inner)
    {
        Operation = operation;
        ErrorCode = errorCode;
        RuntimeMessage = runtimeMessage;
    }

    /// <summary>What this binding was doing when ORT failed.</summary>
    public string Operation { get; }

    /// <summary>ORT's error code (values outside <see cref="OnnxErrorCode"/>'s names come from newer ORT releases).</summary>
    public OnnxErrorCode ErrorCode { get; }

    /// <summary>ORT's own error message, unchanged.</summary>
    public string RuntimeMessage { get; }

    /// <summary>
    /// Our exception for one thrown by the package, which keeps ORT's code only in its message
    /// (<c>"[ErrorCode:InvalidProtobuf] Load model from ... failed: ..."</c>); the package's exception is the inner one.
    /// </summary>
    internal static OnnxRuntimeException From(string operation, Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
    {
        var match = PackageMessage().Match(e.Message);
        if (!match.Success) return new OnnxRuntimeException(operation, OnnxErrorCode.Fail, e.Message, e);
        var code = match.Groups[1].Value switch
        {
            // The package's enum names ORT's codes 11 and 12 differently from the C API, whose names are EP_FAIL and MODEL_LOAD_CANCELED.
            "ShapeInferenceNotRegistered" => OnnxErrorCode.EpFail,
            "RequirementNotRegistered" => (OnnxErrorCode)12,
            var name => Enum.TryParse<OnnxErrorCode>(name, out var parsed) ? parsed : OnnxErrorCode.Fail,
        };
        return new OnnxRuntimeException(operation, code, match.Groups[2].Value, e);
    }

    [GeneratedRegex(@"^\[ErrorCode:(\w+)\] (.*)$", RegexOptions.Singleline)]
    private static partial Regex PackageMessage();
}
