namespace Entrupy.Native.Tests.Onnx;

/// <summary>
/// All ONNX tests run in this one collection, alone, after the parallel collections: some measure process-wide
/// things (thread count, native heap), and the others allocate ORT arenas (up to tens of MB for the cancellation test)
/// that would disturb such measurements in neighbouring tests.
/// </summary>
[CollectionDefinition(nameof(OnnxIsolatedCollection), DisableParallelization = true)]
public sealed class OnnxIsolatedCollection;
