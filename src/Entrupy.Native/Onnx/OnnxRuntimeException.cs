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
public sealed class OnnxRuntimeException : Exception
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

    /// <summary>What this binding was doing when ORT failed.</summary>
    public string Operation { get; }

    /// <summary>ORT's error code (values outside <see cref="OnnxErrorCode"/>'s names come from newer ORT releases).</summary>
    public OnnxErrorCode ErrorCode { get; }

    /// <summary>ORT's own error message, unchanged.</summary>
    public string RuntimeMessage { get; }
}
