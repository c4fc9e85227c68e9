using System.Buffers;
using System.Runtime.InteropServices;

namespace Entrupy.Native.Onnx;

/// <summary>
/// A loaded ONNX model, ready to run float tensors through ONNX Runtime's CPU provider.
/// </summary>
/// <remarks>
/// Thread-safe: any number of threads may call <c>Run</c> on one session at the same time (ORT allows concurrent
/// runs on a session). <see cref="Dispose"/> waits for nothing but is safe to call while runs are in flight: the native
/// session is released when the last of them finishes.
/// </remarks>
public sealed unsafe class OnnxSession : IDisposable
{
    private const int FloatElementType = (int)OnnxElementType.Float;

    private readonly OrtSessionHandle handle;
    private readonly OnnxNodeInfo[] inputs;
    private readonly OnnxNodeInfo[] outputs;
    private readonly Dictionary<string, int> inputIndexByName;
    private readonly Dictionary<string, int> outputIndexByName;

    private OnnxSession(OrtSessionHandle handle, OnnxNodeInfo[] inputs, OnnxNodeInfo[] outputs, string? modelPath, OnnxSessionOptions options)
    {
        this.handle = handle;
        this.inputs = inputs;
        this.outputs = outputs;
        inputIndexByName = IndexByName(inputs);
        outputIndexByName = IndexByName(outputs);
        ModelPath = modelPath;
        Options = options;
    }

    /// <summary>The model's inputs, in graph order.</summary>
    public IReadOnlyList<OnnxNodeInfo> Inputs => inputs;

    /// <summary>The model's outputs, in graph order.</summary>
    public IReadOnlyList<OnnxNodeInfo> Outputs => outputs;

    /// <summary>Full path of the model file, or null when the session was created from bytes.</summary>
    public string? ModelPath { get; }

    /// <summary>The options the session was created with.</summary>
    public OnnxSessionOptions Options { get; }

    /// <summary>Loads a model file.</summary>
    /// <param name="modelPath">Path of the <c>.onnx</c> file.</param>
    /// <param name="options">Session options; <see cref="OnnxSessionOptions.Default"/> when null.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxRuntimeException">ORT cannot load the model (corrupt, unsupported operator, ...).</exception>
    public static OnnxSession FromFile(string modelPath, OnnxSessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        var fullPath = Path.GetFullPath(modelPath);
        // ORT would report a missing file too, but only as a generic load failure; say plainly which path is missing.
        if (!File.Exists(fullPath))
            throw new FileNotFoundException($"ONNX model file not found: {fullPath}", fullPath);

        options ??= OnnxSessionOptions.Default;
        var pathUtf8 = OnnxRuntime.Utf8Z(fullPath);
        return Create(options, fullPath, $"loading model {fullPath}", (api, env, nativeOptions, session) =>
        {
            fixed (byte* path = pathUtf8)
                return api.CreateSession(env.Env, path, nativeOptions, session);
        });
    }

    /// <summary>Loads a model from its serialized bytes (the content of an <c>.onnx</c> file).</summary>
    /// <param name="model">The model bytes; ORT copies what it needs, so the buffer may be reused afterwards.</param>
    /// <param name="options">Session options; <see cref="OnnxSessionOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentException">The buffer is empty.</exception>
    /// <exception cref="OnnxRuntimeException">ORT cannot load the model.</exception>
    public static OnnxSession FromBytes(ReadOnlyMemory<byte> model, OnnxSessionOptions? options = null)
    {
        if (model.IsEmpty) throw new ArgumentException("The model buffer is empty.", nameof(model));
        options ??= OnnxSessionOptions.Default;
        return Create(options, null, $"loading a {model.Length}-byte model from memory", (api, env, nativeOptions, session) =>
        {
            using var pin = model.Pin();
            return api.CreateSessionFromArray(env.Env, pin.Pointer, (nuint)model.Length, nativeOptions, session);
        });
    }

    /// <summary>
    /// Runs a model with one input and returns its first output (see <see cref="Outputs"/>).
    /// </summary>
    /// <param name="inputName">Name of the input to feed.</param>
    /// <param name="data">Elements in row-major order; read in place, not copied.</param>
    /// <param name="shape">Dimensions of <paramref name="data"/>, e.g. <c>[batch, 1, 16, 16]</c>.</param>
    /// <param name="outputShape">Dimensions of the returned output.</param>
    /// <param name="cancellationToken">Cancels the run; ORT stops at the next operator boundary.</param>
    /// <returns>The first output's elements in row-major order.</returns>
    /// <exception cref="ArgumentException">Unknown input name, a missing input, or a shape that does not fit the data or the model.</exception>
    /// <exception cref="OnnxRuntimeException">ORT failed to run the model.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public float[] Run(string inputName, ReadOnlySpan<float> data, ReadOnlySpan<long> shape, out long[] outputShape,
        CancellationToken cancellationToken = default)
    {
        var inputIndex = FindInput(inputName);
        RequireAllInputs([inputIndex]);
        ValidateInput(inputIndex, shape, data.Length);
        if (outputs.Length == 0) throw new InvalidOperationException("The model has no outputs.");
        RequireFloatOutput(0);
        cancellationToken.ThrowIfCancellationRequested();

        var api = OnnxRuntime.Api;
        nint value = 0;
        try
        {
            fixed (float* dataPointer = data)
            {
                value = CreateInputValue(api, dataPointer, data.Length, shape);
                var result = RunCore([inputIndex], &value, [0], cancellationToken)![0];
                outputShape = result.ShapeArray();
                // The output was freshly allocated for this call, so handing out its array is safe.
                return MemoryMarshal.TryGetArray(result.Data, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
                    ? segment.Array
                    : result.Data.ToArray();
            }
        }
        finally
        {
            if (value != 0) api.ReleaseValue(value);
        }
    }

    /// <summary>Runs the model on several named inputs and returns the requested outputs.</summary>
    /// <param name="inputs">One tensor per model input, keyed by input name; buffers are read in place.</param>
    /// <param name="outputNames">Outputs to compute; all outputs, in model order, when null.</param>
    /// <param name="cancellationToken">Cancels the run; ORT stops at the next operator boundary.</param>
    /// <returns>The outputs keyed by name, enumerated in the order requested.</returns>
    /// <exception cref="ArgumentException">Unknown input or output name, a missing input, or a shape that does not fit the model.</exception>
    /// <exception cref="OnnxRuntimeException">ORT failed to run the model.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IReadOnlyDictionary<string, OnnxTensor> Run(IReadOnlyDictionary<string, OnnxTensor> inputs,
        IReadOnlyList<string>? outputNames = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var (inputIndices, tensors) = ResolveInputs(inputs);
        var outputIndices = ResolveOutputs(outputNames);
        cancellationToken.ThrowIfCancellationRequested();

        var api = OnnxRuntime.Api;
        var values = new nint[tensors.Length];
        var pins = new MemoryHandle[tensors.Length];
        try
        {
            for (var i = 0; i < tensors.Length; i++)
            {
                // Pinned until the value is released below: ORT reads the caller's buffer in place.
                pins[i] = tensors[i].Data.Pin();
                values[i] = CreateInputValue(api, (float*)pins[i].Pointer, tensors[i].Data.Length, tensors[i].ShapeSpan);
            }

            OnnxTensor[] results;
            fixed (nint* valuePointers = values)
                results = RunCore(inputIndices, valuePointers, outputIndices, cancellationToken)!;

            var byName = new Dictionary<string, OnnxTensor>(results.Length, StringComparer.Ordinal);
            for (var i = 0; i < results.Length; i++) byName.Add(outputs[outputIndices[i]].Name, results[i]);
            return byName;
        }
        finally
        {
            foreach (var value in values)
                if (value != 0) api.ReleaseValue(value);
            foreach (var pin in pins) pin.Dispose();
        }
    }

    /// <summary>
    /// Runs the model and writes the requested outputs straight into caller-owned buffers: no output memory is allocated
    /// or copied, which matters for large batched outputs run many times.
    /// </summary>
    /// <param name="inputs">One tensor per model input, keyed by input name; buffers are read in place.</param>
    /// <param name="outputs">The outputs to compute, keyed by name, each with the exact shape the model produces for these inputs.</param>
    /// <param name="cancellationToken">Cancels the run; ORT stops at the next operator boundary.</param>
    /// <exception cref="ArgumentException">Unknown input or output name, a missing input, or a shape that does not fit the model.</exception>
    /// <exception cref="OnnxRuntimeException">ORT failed to run the model, including an output buffer whose shape differs from the result's.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <remarks>Do not read or change the buffers while the run is in progress; on failure their contents are unspecified.</remarks>
    public void RunInto(IReadOnlyDictionary<string, OnnxTensor> inputs, IReadOnlyDictionary<string, OnnxOutputBuffer> outputs,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        var (inputIndices, tensors) = ResolveInputs(inputs);
        var outputIndices = ResolveOutputs(outputs.Keys.ToArray());
        var buffers = outputs.Values.ToArray();
        for (var i = 0; i < buffers.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(buffers[i], "outputs");
            ValidateOutputBuffer(outputIndices[i], buffers[i].ShapeSpan);
        }
        cancellationToken.ThrowIfCancellationRequested();

        var api = OnnxRuntime.Api;
        var values = new nint[tensors.Length + buffers.Length];
        var pins = new MemoryHandle[values.Length];
        try
        {
            for (var i = 0; i < tensors.Length; i++)
            {
                pins[i] = tensors[i].Data.Pin();
                values[i] = CreateInputValue(api, (float*)pins[i].Pointer, tensors[i].Data.Length, tensors[i].ShapeSpan);
            }
            for (var i = 0; i < buffers.Length; i++)
            {
                // Pinned until released below: ORT writes the result into the caller's memory.
                var slot = tensors.Length + i;
                pins[slot] = buffers[i].Data.Pin();
                values[slot] = CreateInputValue(api, (float*)pins[slot].Pointer, buffers[i].Data.Length, buffers[i].ShapeSpan);
            }
            fixed (nint* valuePointers = values)
                RunCore(inputIndices, valuePointers, outputIndices, cancellationToken, valuePointers + tensors.Length);
        }
        finally
        {
            foreach (var value in values)
                if (value != 0) api.ReleaseValue(value);
            foreach (var pin in pins) pin.Dispose();
        }
    }

    /// <summary>Releases the native session (after any runs still in progress).</summary>
    public void Dispose() => handle.Dispose();

    /// <inheritdoc />
    public override string ToString() =>
        $"OnnxSession({ModelPath ?? "<memory>"}: {string.Join(", ", inputs.Select(i => i.ToString()))} -> {string.Join(", ", outputs.Select(o => o.ToString()))})";

    private delegate nint CreateNativeSession(OrtApi api, OnnxRuntime.OrtEnvironment env, nint nativeOptions, nint* session);

    private static OnnxSession Create(OnnxSessionOptions options, string? modelPath, string operation, CreateNativeSession create)
    {
        var api = OnnxRuntime.Api;
        var env = OnnxRuntime.Environment;
        var handle = new OrtSessionHandle();
        try
        {
            var nativeOptions = CreateNativeOptions(api, options);
            try
            {
                nint session = 0;
                api.Check(create(api, env, nativeOptions, &session), operation);
                handle.Attach(session);
            }
            finally
            {
                api.ReleaseSessionOptions(nativeOptions);
            }

            var inputs = ReadNodes(api, env, handle.DangerousGetHandle(), isInput: true);
            var outputs = ReadNodes(api, env, handle.DangerousGetHandle(), isInput: false);
            handle.SetNames(inputs.Select(i => i.Name).ToArray(), outputs.Select(o => o.Name).ToArray());
            return new OnnxSession(handle, inputs, outputs, modelPath, options);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static nint CreateNativeOptions(OrtApi api, OnnxSessionOptions options)
    {
        nint nativeOptions;
        api.Check(api.CreateSessionOptions(&nativeOptions), "creating session options");
        try
        {
            api.Check(api.SetIntraOpNumThreads(nativeOptions, options.IntraOpThreads), $"setting intra-op threads to {options.IntraOpThreads}");
            api.Check(api.SetInterOpNumThreads(nativeOptions, options.InterOpThreads), $"setting inter-op threads to {options.InterOpThreads}");
            api.Check(api.SetSessionGraphOptimizationLevel(nativeOptions, (int)options.GraphOptimizationLevel),
                $"setting graph optimisation level {options.GraphOptimizationLevel}");
            // ExecutionMode: ORT_SEQUENTIAL = 0, ORT_PARALLEL = 1.
            api.Check(api.SetSessionExecutionMode(nativeOptions, options.ParallelExecution ? 1 : 0), "setting the execution mode");
            var spinning = options.AllowSpinning ? "1" : "0";
            AddConfigEntry(api, nativeOptions, "session.intra_op.allow_spinning", spinning);
            AddConfigEntry(api, nativeOptions, "session.inter_op.allow_spinning", spinning);
            return nativeOptions;
        }
        catch
        {
            api.ReleaseSessionOptions(nativeOptions);
            throw;
        }
    }

    private static void AddConfigEntry(OrtApi api, nint nativeOptions, string key, string value)
    {
        fixed (byte* keyUtf8 = OnnxRuntime.Utf8Z(key))
        fixed (byte* valueUtf8 = OnnxRuntime.Utf8Z(value))
            api.Check(api.AddSessionConfigEntry(nativeOptions, keyUtf8, valueUtf8), $"setting {key}={value}");
    }

    private static OnnxNodeInfo[] ReadNodes(OrtApi api, OnnxRuntime.OrtEnvironment env, nint session, bool isInput)
    {
        var kind = isInput ? "input" : "output";
        nuint count;
        api.Check(isInput ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count), $"counting {kind}s");
        var nodes = new OnnxNodeInfo[(int)count];
        for (nuint i = 0; i < count; i++)
        {
            byte* namePointer = null;
            api.Check(isInput
                ? api.SessionGetInputName(session, i, env.DefaultAllocator, &namePointer)
                : api.SessionGetOutputName(session, i, env.DefaultAllocator, &namePointer), $"reading the name of {kind} {i}");
            string name;
            try
            {
                name = Marshal.PtrToStringUTF8((nint)namePointer) ?? string.Empty;
            }
            finally
            {
                api.Check(api.AllocatorFree(env.DefaultAllocator, namePointer), $"freeing the name of {kind} {i}");
            }

            nint typeInfo;
            api.Check(isInput
                ? api.SessionGetInputTypeInfo(session, i, &typeInfo)
                : api.SessionGetOutputTypeInfo(session, i, &typeInfo), $"reading the type of {kind} '{name}'");
            try
            {
                // Owned by typeInfo; null when the value is a sequence, map or other non-tensor type.
                nint tensorInfo;
                api.Check(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo), $"reading the tensor type of {kind} '{name}'");
                nodes[(int)i] = tensorInfo == 0
                    ? new OnnxNodeInfo(name, isTensor: false, OnnxElementType.Undefined, [])
                    : new OnnxNodeInfo(name, isTensor: true, ReadElementType(api, tensorInfo), ReadDimensions(api, tensorInfo));
            }
            finally
            {
                api.ReleaseTypeInfo(typeInfo);
            }
        }
        return nodes;
    }

    private static OnnxElementType ReadElementType(OrtApi api, nint tensorInfo)
    {
        int elementType;
        api.Check(api.GetTensorElementType(tensorInfo, &elementType), "reading a tensor element type");
        return (OnnxElementType)elementType;
    }

    private static long[] ReadDimensions(OrtApi api, nint tensorInfo)
    {
        nuint rank;
        api.Check(api.GetDimensionsCount(tensorInfo, &rank), "reading a tensor rank");
        var dims = new long[(int)rank];
        fixed (long* dimsPointer = dims)
            api.Check(api.GetDimensions(tensorInfo, dimsPointer, rank), "reading tensor dimensions");
        return dims;
    }

    private static nint CreateInputValue(OrtApi api, float* data, int length, ReadOnlySpan<long> shape)
    {
        nint value;
        nint status;
        fixed (long* shapePointer = shape)
            status = api.CreateTensorWithDataAsOrtValue(OnnxRuntime.Environment.CpuMemoryInfo, data, (nuint)length * sizeof(float),
                shapePointer, (nuint)shape.Length, FloatElementType, &value);
        if (status != 0) api.ThrowFailure(status, $"creating a float[{string.Join(",", shape.ToArray())}] input tensor");
        return value;
    }

    /// <summary>
    /// Runs with input values already created. Without <paramref name="callerOutputs"/> ORT allocates the outputs, which
    /// are copied out and always released here; with them ORT writes into those values (owned and released by the caller)
    /// and null is returned.
    /// </summary>
    private OnnxTensor[]? RunCore(ReadOnlySpan<int> inputIndices, nint* inputValues, ReadOnlySpan<int> outputIndices, CancellationToken cancellationToken,
        nint* callerOutputs = null)
    {
        var api = OnnxRuntime.Api;
        var added = false;
        nint runOptions = 0;
        CancellationTokenRegistration registration = default;
        // Zeroed so ORT allocates every output (and the finally block knows which ones exist), unless the caller supplied them.
        var outputValues = stackalloc nint[outputIndices.Length];
        if (callerOutputs is null) new Span<nint>(outputValues, outputIndices.Length).Clear();
        else new Span<nint>(callerOutputs, outputIndices.Length).CopyTo(new Span<nint>(outputValues, outputIndices.Length));
        try
        {
            // Keeps the session (and its native names) alive even if Dispose runs concurrently; throws if already disposed.
            handle.DangerousAddRef(ref added);
            var inputNames = stackalloc byte*[inputIndices.Length];
            for (var i = 0; i < inputIndices.Length; i++) inputNames[i] = handle.InputNames[inputIndices[i]];
            var outputNames = stackalloc byte*[outputIndices.Length];
            for (var i = 0; i < outputIndices.Length; i++) outputNames[i] = handle.OutputNames[outputIndices[i]];

            if (cancellationToken.CanBeCanceled)
            {
                api.Check(api.CreateRunOptions(&runOptions), "creating run options");
                registration = cancellationToken.UnsafeRegister(static state => Terminate((nint)state!), runOptions);
            }

            try
            {
                api.Check(api.Run(handle.DangerousGetHandle(), runOptions, inputNames, inputValues, (nuint)inputIndices.Length,
                    outputNames, (nuint)outputIndices.Length, outputValues), "running the model");
            }
            catch (OnnxRuntimeException e) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The model run was cancelled.", e, cancellationToken);
            }

            if (callerOutputs is not null) return null;
            var results = new OnnxTensor[outputIndices.Length];
            for (var i = 0; i < outputIndices.Length; i++)
                results[i] = ReadOutput(api, outputValues[i], outputs[outputIndices[i]].Name);
            return results;
        }
        finally
        {
            // Dispose waits for a running callback, so the run options are never released under it.
            registration.Dispose();
            if (runOptions != 0) api.ReleaseRunOptions(runOptions);
            if (callerOutputs is null)
                for (var i = 0; i < outputIndices.Length; i++)
                    if (outputValues[i] != 0) api.ReleaseValue(outputValues[i]);
            if (added) handle.DangerousRelease();
        }
    }

    private static void Terminate(nint runOptions)
    {
        var api = OnnxRuntime.Api;
        var status = api.RunOptionsSetTerminate(runOptions);
        if (status != 0) api.ReleaseStatus(status);
    }

    private static OnnxTensor ReadOutput(OrtApi api, nint value, string name)
    {
        if (value == 0) throw new InvalidOperationException($"ONNX Runtime returned no value for output '{name}'.");
        nint info;
        var status = api.GetTensorTypeAndShape(value, &info);
        if (status != 0) api.ThrowFailure(status, $"reading the shape of output '{name}'");
        try
        {
            var elementType = ReadElementType(api, info);
            if (elementType != OnnxElementType.Float)
                throw new NotSupportedException($"Output '{name}' holds {elementType} elements; this binding only reads float tensors.");
            var dims = ReadDimensions(api, info);
            nuint count;
            status = api.GetTensorShapeElementCount(info, &count);
            if (status != 0) api.ThrowFailure(status, $"counting the elements of output '{name}'");
            var data = new float[checked((int)count)];
            if (count > 0)
            {
                void* source;
                status = api.GetTensorMutableData(value, &source);
                if (status != 0) api.ThrowFailure(status, $"reading output '{name}'");
                new ReadOnlySpan<float>(source, data.Length).CopyTo(data);
            }
            return new OnnxTensor(data, dims);
        }
        finally
        {
            api.ReleaseTensorTypeAndShapeInfo(info);
        }
    }

    private int FindInput(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (inputIndexByName.TryGetValue(name, out var index)) return index;
        throw new ArgumentException(
            $"The model has no input named '{name}'. Its inputs are: {string.Join(", ", inputs.Select(i => i.ToString()))}.", nameof(name));
    }

    /// <summary>Input index and tensor of every named input, each checked against the model; all inputs must be given.</summary>
    private (int[] Indices, OnnxTensor[] Tensors) ResolveInputs(IReadOnlyDictionary<string, OnnxTensor> inputs)
    {
        var inputIndices = new int[inputs.Count];
        var tensors = new OnnxTensor[inputs.Count];
        var position = 0;
        foreach (var (name, tensor) in inputs)
        {
            ArgumentNullException.ThrowIfNull(tensor, $"inputs[\"{name}\"]");
            inputIndices[position] = FindInput(name);
            tensors[position] = tensor;
            ValidateInput(inputIndices[position], tensor.ShapeSpan, tensor.Data.Length);
            position++;
        }
        RequireAllInputs(inputIndices);
        return (inputIndices, tensors);
    }

    private void RequireAllInputs(ReadOnlySpan<int> supplied)
    {
        if (supplied.Length == inputs.Length) return;
        var suppliedIndices = supplied.ToArray();
        var missing = inputs.Where((_, index) => Array.IndexOf(suppliedIndices, index) < 0).Select(i => i.ToString());
        throw new ArgumentException($"Every model input must be supplied; missing: {string.Join(", ", missing)}.", "inputs");
    }

    private int[] ResolveOutputs(IReadOnlyList<string>? names)
    {
        if (names is null)
        {
            var all = Enumerable.Range(0, outputs.Length).ToArray();
            foreach (var index in all) RequireFloatOutput(index);
            return all;
        }
        if (names.Count == 0) throw new ArgumentException("Ask for at least one output (or pass null for all of them).", nameof(names));
        var indices = new int[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] is null || !outputIndexByName.TryGetValue(names[i], out indices[i]))
                throw new ArgumentException(
                    $"The model has no output named '{names[i]}'. Its outputs are: {string.Join(", ", outputs.Select(o => o.ToString()))}.", "outputNames");
            if (Array.IndexOf(indices, indices[i], 0, i) >= 0)
                throw new ArgumentException($"Output '{names[i]}' is requested twice.", "outputNames");
            RequireFloatOutput(indices[i]);
        }
        return indices;
    }

    private void RequireFloatOutput(int index)
    {
        var output = outputs[index];
        if (!output.IsTensor || output.ElementType != OnnxElementType.Float)
            throw new NotSupportedException($"Output {output} is not a float tensor; this binding only reads float tensors.");
    }

    private void ValidateInput(int index, ReadOnlySpan<long> shape, int dataLength)
    {
        var input = inputs[index];
        var given = $"[{string.Join(",", shape.ToArray())}]";
        if (!input.IsTensor || input.ElementType != OnnxElementType.Float)
            throw new ArgumentException($"Input {input} is not a float tensor; this binding only feeds float tensors.", "inputs");
        if (shape.Length != input.Rank)
            throw new ArgumentException(
                $"Input '{input.Name}' has rank {input.Rank} in the model ([{string.Join(",", input.Shape)}]) but the shape given is {given} (rank {shape.Length}).", "shape");
        for (var d = 0; d < shape.Length; d++)
        {
            // Negative model dimensions are dynamic (symbolic); every fixed one must match exactly.
            if (input.Shape[d] >= 0 && input.Shape[d] != shape[d])
                throw new ArgumentException(
                    $"Input '{input.Name}' dimension {d} must be {input.Shape[d]} (model shape [{string.Join(",", input.Shape)}]) but the shape given is {given}.", "shape");
        }
        var count = OnnxTensor.ElementCount(shape, "shape");
        if (count != dataLength)
            throw new ArgumentException($"Input '{input.Name}': shape {given} holds {count} elements but the data has {dataLength}.", "data");
        if (count == 0)
            throw new ArgumentException($"Input '{input.Name}': shape {given} is empty; empty tensors are not supported.", "shape");
    }

    private void ValidateOutputBuffer(int index, ReadOnlySpan<long> shape)
    {
        var output = outputs[index];
        // Runs on every call: the messages are only formatted when thrown.
        string Given(ReadOnlySpan<long> dims) => $"[{string.Join(",", dims.ToArray())}]";
        if (shape.Length != output.Rank)
            throw new ArgumentException(
                $"Output '{output.Name}' has rank {output.Rank} in the model ([{string.Join(",", output.Shape)}]) but the buffer's shape is {Given(shape)}.", "outputs");
        for (var d = 0; d < shape.Length; d++)
        {
            if (output.Shape[d] >= 0 && output.Shape[d] != shape[d])
                throw new ArgumentException(
                    $"Output '{output.Name}' dimension {d} is {output.Shape[d]} in the model ([{string.Join(",", output.Shape)}]) but the buffer's shape is {Given(shape)}.", "outputs");
        }
        if (OnnxTensor.ElementCount(shape, "outputs") == 0)
            throw new ArgumentException($"Output '{output.Name}': buffer shape {Given(shape)} is empty; empty tensors are not supported.", "outputs");
    }

    private static Dictionary<string, int> IndexByName(OnnxNodeInfo[] nodes)
    {
        var map = new Dictionary<string, int>(nodes.Length, StringComparer.Ordinal);
        for (var i = 0; i < nodes.Length; i++) map.TryAdd(nodes[i].Name, i);
        return map;
    }
}
