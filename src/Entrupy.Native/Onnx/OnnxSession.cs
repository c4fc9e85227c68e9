using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using PackageException = Microsoft.ML.OnnxRuntime.OnnxRuntimeException;

namespace Entrupy.Native.Onnx;

/// <summary>
/// A loaded ONNX model, ready to run float tensors through ONNX Runtime's CPU provider.
/// </summary>
/// <remarks>
/// <para>
/// A thin layer over the package's <see cref="InferenceSession"/>, kept for what callers rely on and the package does
/// not give as such: runs that read the caller's buffers in place and write outputs straight into caller buffers
/// (<see cref="RunInto"/>, the fingerprint engine's hot path), inputs checked against the model with messages that
/// say what is wrong, ORT errors as <see cref="OnnxRuntimeException"/> with their code and the failed operation, and
/// cancellation through a <see cref="CancellationToken"/>.
/// </para>
/// <para>
/// Thread-safe: any number of threads may call <c>Run</c> on one session at the same time (ORT allows concurrent
/// runs on a session). <see cref="Dispose"/> waits for nothing but is safe to call while runs are in flight: the native
/// session is released when the last of them finishes.
/// </para>
/// </remarks>
public sealed class OnnxSession : IDisposable
{
    private readonly InferenceSession session;
    // Used by every run that cannot be cancelled: ORT only reads run options, so one object serves concurrent runs and
    // no run pays for creating and releasing its own. A cancellable run gets its own, since cancelling sets its terminate flag.
    private readonly RunOptions sharedRunOptions;
    private readonly OnnxNodeInfo[] inputs;
    private readonly OnnxNodeInfo[] outputs;
    private readonly Dictionary<string, int> inputIndexByName;
    private readonly Dictionary<string, int> outputIndexByName;
    // Runs in flight, and whether Dispose was called: the native session is released by whichever of Dispose and the
    // last run ends last, so a run never uses a released session (the package's Dispose would release it under the run).
    private int runsInFlight;
    private int disposeRequested;
    private int released;

    private OnnxSession(InferenceSession session, OnnxNodeInfo[] inputs, OnnxNodeInfo[] outputs, string? modelPath, OnnxSessionOptions options)
    {
        this.session = session;
        sharedRunOptions = new RunOptions();
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
        return Create(options ?? OnnxSessionOptions.Default, fullPath, $"loading model {fullPath}",
            nativeOptions => new InferenceSession(fullPath, nativeOptions));
    }

    /// <summary>Loads a model from its serialized bytes (the content of an <c>.onnx</c> file).</summary>
    /// <param name="model">The model bytes; ORT copies what it needs, so the buffer may be reused afterwards.</param>
    /// <param name="options">Session options; <see cref="OnnxSessionOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentException">The buffer is empty.</exception>
    /// <exception cref="OnnxRuntimeException">ORT cannot load the model.</exception>
    public static OnnxSession FromBytes(ReadOnlyMemory<byte> model, OnnxSessionOptions? options = null)
    {
        if (model.IsEmpty) throw new ArgumentException("The model buffer is empty.", nameof(model));
        // The package only takes a whole byte[]: pass the caller's array when the memory is one, copy a slice otherwise.
        var bytes = MemoryMarshal.TryGetArray(model, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : model.ToArray();
        return Create(options ?? OnnxSessionOptions.Default, null, $"loading a {model.Length}-byte model from memory",
            nativeOptions => new InferenceSession(bytes, nativeOptions));
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
    public unsafe float[] Run(string inputName, ReadOnlySpan<float> data, ReadOnlySpan<long> shape, out long[] outputShape,
        CancellationToken cancellationToken = default)
    {
        var inputIndex = FindInput(inputName);
        RequireAllInputs([inputIndex]);
        ValidateInput(inputIndex, shape, data.Length);
        if (outputs.Length == 0) throw new InvalidOperationException("The model has no outputs.");
        RequireFloatOutput(0);
        cancellationToken.ThrowIfCancellationRequested();

        OrtValue? value = null;
        try
        {
            // A span cannot be pinned by the package, so it is pinned here and wrapped by address for the run.
            fixed (float* dataPointer = data)
            {
                value = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, shape.ToArray(),
                    (nint)dataPointer, (long)data.Length * sizeof(float));
                var (result, resultShape) = RunCore([inputs[inputIndex].Name], [value], [outputs[0].Name], null, cancellationToken)![0];
                outputShape = resultShape;
                return result;
            }
        }
        finally
        {
            value?.Dispose();
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

        var values = new OrtValue[tensors.Length];
        try
        {
            for (var i = 0; i < tensors.Length; i++) values[i] = WrapInput(tensors[i]);
            var results = RunCore(NamesOf(this.inputs, inputIndices), values, NamesOf(outputs, outputIndices), null, cancellationToken)!;
            var byName = new Dictionary<string, OnnxTensor>(results.Length, StringComparer.Ordinal);
            for (var i = 0; i < results.Length; i++) byName.Add(outputs[outputIndices[i]].Name, new OnnxTensor(results[i].Data, results[i].Shape));
            return byName;
        }
        finally
        {
            DisposeAll(values);
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

        var inputValues = new OrtValue[tensors.Length];
        var outputValues = new OrtValue[buffers.Length];
        try
        {
            for (var i = 0; i < tensors.Length; i++) inputValues[i] = WrapInput(tensors[i]);
            // Pinned until disposed below: ORT writes the results into the caller's memory.
            for (var i = 0; i < buffers.Length; i++)
                outputValues[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffers[i].Data, buffers[i].SharedShape);
            RunCore(NamesOf(this.inputs, inputIndices), inputValues, NamesOf(this.outputs, outputIndices), outputValues, cancellationToken);
        }
        finally
        {
            DisposeAll(inputValues);
            DisposeAll(outputValues);
        }
    }

    /// <summary>Releases the native session (after any runs still in progress).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposeRequested, 1) != 0) return;
        if (Volatile.Read(ref runsInFlight) == 0) Release();
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"OnnxSession({ModelPath ?? "<memory>"}: {string.Join(", ", inputs.Select(i => i.ToString()))} -> {string.Join(", ", outputs.Select(o => o.ToString()))})";

    private static OnnxSession Create(OnnxSessionOptions options, string? modelPath, string operation, Func<SessionOptions, InferenceSession> load)
    {
        // Our environment (log level) first, before the package would create its default one.
        _ = OnnxRuntime.Environment;
        InferenceSession session;
        using (var nativeOptions = CreateNativeOptions(options))
        {
            try
            {
                session = load(nativeOptions);
            }
            catch (PackageException e)
            {
                throw OnnxRuntimeException.From(operation, e);
            }
        }

        try
        {
            return new OnnxSession(session, ReadNodes(session.InputNames, session.InputMetadata),
                ReadNodes(session.OutputNames, session.OutputMetadata), modelPath, options);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static SessionOptions CreateNativeOptions(OnnxSessionOptions options)
    {
        var nativeOptions = new SessionOptions();
        try
        {
            nativeOptions.IntraOpNumThreads = options.IntraOpThreads;
            nativeOptions.InterOpNumThreads = options.InterOpThreads;
            // Our levels carry ORT's numbers (0, 1, 2, 99).
            nativeOptions.GraphOptimizationLevel = (GraphOptimizationLevel)(int)options.GraphOptimizationLevel;
            nativeOptions.ExecutionMode = options.ParallelExecution ? ExecutionMode.ORT_PARALLEL : ExecutionMode.ORT_SEQUENTIAL;
            var spinning = options.AllowSpinning ? "1" : "0";
            nativeOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", spinning);
            nativeOptions.AddSessionConfigEntry("session.inter_op.allow_spinning", spinning);
            return nativeOptions;
        }
        catch (PackageException e)
        {
            nativeOptions.Dispose();
            throw OnnxRuntimeException.From("setting the session options", e);
        }
        catch
        {
            nativeOptions.Dispose();
            throw;
        }
    }

    private static OnnxNodeInfo[] ReadNodes(IReadOnlyList<string> names, IReadOnlyDictionary<string, NodeMetadata> metadata)
    {
        var nodes = new OnnxNodeInfo[names.Count];
        for (var i = 0; i < nodes.Length; i++)
        {
            var node = metadata[names[i]];
            // Sequences, maps and other non-tensor values have no element type or shape of their own.
            nodes[i] = node.OnnxValueType == OnnxValueType.ONNX_TYPE_TENSOR
                ? new OnnxNodeInfo(names[i], isTensor: true, (OnnxElementType)(int)node.ElementDataType, Array.ConvertAll(node.Dimensions, d => (long)d))
                : new OnnxNodeInfo(names[i], isTensor: false, OnnxElementType.Undefined, []);
        }
        return nodes;
    }

    /// <summary>An ORT value over the tensor's memory, pinned until the value is disposed: ORT reads the caller's buffer in place.</summary>
    private static OrtValue WrapInput(OnnxTensor tensor) =>
        // ORT never writes to an input, so viewing the read-only memory as writable is safe.
        OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, MemoryMarshal.AsMemory(tensor.Data), tensor.SharedShape);

    /// <summary>
    /// Runs with input values already created. Without <paramref name="callerOutputs"/> ORT allocates the outputs, which
    /// are copied out and released here; with them ORT writes into those values (owned and released by the caller) and
    /// null is returned.
    /// </summary>
    private (float[] Data, long[] Shape)[]? RunCore(string[] inputNames, OrtValue[] inputValues, string[] outputNames, OrtValue[]? callerOutputs,
        CancellationToken cancellationToken)
    {
        EnterRun();
        RunOptions? ownRunOptions = null;
        CancellationTokenRegistration registration = default;
        try
        {
            if (cancellationToken.CanBeCanceled)
            {
                ownRunOptions = new RunOptions();
                registration = cancellationToken.UnsafeRegister(static state => ((RunOptions)state!).Terminate = true, ownRunOptions);
            }
            var runOptions = ownRunOptions ?? sharedRunOptions;
            try
            {
                if (callerOutputs is not null)
                {
                    session.Run(runOptions, inputNames, inputValues, outputNames, callerOutputs);
                    return null;
                }
                using var results = session.Run(runOptions, inputNames, inputValues, outputNames);
                var copies = new (float[], long[])[results.Count];
                var i = 0;
                foreach (var result in results)
                {
                    copies[i] = ReadOutput(result, outputNames[i]);
                    i++;
                }
                return copies;
            }
            catch (PackageException e)
            {
                var error = OnnxRuntimeException.From("running the model", e);
                if (cancellationToken.IsCancellationRequested)
                    throw new OperationCanceledException("The model run was cancelled.", error, cancellationToken);
                throw error;
            }
        }
        finally
        {
            // Dispose waits for a running callback, so the run options are never released under it.
            registration.Dispose();
            ownRunOptions?.Dispose();
            ExitRun();
        }
    }

    private static (float[] Data, long[] Shape) ReadOutput(OrtValue value, string name)
    {
        if (!value.IsTensor) throw new NotSupportedException($"Output '{name}' is not a tensor; this binding only reads float tensors.");
        var info = value.GetTensorTypeAndShape();
        if (info.ElementDataType != TensorElementType.Float)
            throw new NotSupportedException($"Output '{name}' holds {(OnnxElementType)(int)info.ElementDataType} elements; this binding only reads float tensors.");
        return (value.GetTensorDataAsSpan<float>().ToArray(), info.Shape);
    }

    /// <summary>Counts a run in; throws if the session is disposed.</summary>
    private void EnterRun()
    {
        Interlocked.Increment(ref runsInFlight);
        if (Volatile.Read(ref disposeRequested) == 0) return;
        ExitRun();
        throw new ObjectDisposedException(nameof(OnnxSession));
    }

    private void ExitRun()
    {
        if (Interlocked.Decrement(ref runsInFlight) == 0 && Volatile.Read(ref disposeRequested) != 0) Release();
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref released, 1) != 0) return;
        session.Dispose();
        sharedRunOptions.Dispose();
    }

    private static string[] NamesOf(OnnxNodeInfo[] nodes, int[] indices)
    {
        var names = new string[indices.Length];
        for (var i = 0; i < indices.Length; i++) names[i] = nodes[indices[i]].Name;
        return names;
    }

    private static void DisposeAll(OrtValue?[] values)
    {
        foreach (var value in values) value?.Dispose();
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
