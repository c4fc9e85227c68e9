using Entrupy.Native.Onnx;

namespace Entrupy.Native.Tests.Onnx;

[Collection(nameof(OnnxIsolatedCollection))]
public sealed class OnnxSessionTests
{
    [Fact]
    public void ReportsThePinnedRuntimeVersion()
    {
        Assert.Equal("1.32.0", OnnxRuntime.Version);
        // The Microsoft.ML.OnnxRuntime package's own library, copied under the test's output folder.
        Assert.EndsWith("runtimes/linux-x64/native/libonnxruntime.so", OnnxRuntime.LibraryPath);
        Assert.StartsWith(AppContext.BaseDirectory, OnnxRuntime.LibraryPath);
    }

    [Fact]
    public void ExposesNamesElementTypesAndDynamicShapes()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);

        var input = Assert.Single(session.Inputs);
        Assert.Equal("image", input.Name);
        Assert.True(input.IsTensor);
        Assert.Equal(OnnxElementType.Float, input.ElementType);
        Assert.Equal([-1L, 1, 16, 16], input.Shape);

        Assert.Equal(["embedding", "pooled"], session.Outputs.Select(o => o.Name));
        Assert.All(session.Outputs, o => Assert.Equal(OnnxElementType.Float, o.ElementType));
        Assert.All(session.Outputs, o => Assert.Equal([-1L, 8], o.Shape));
        Assert.Equal(Path.GetFullPath(TinyPath()), session.ModelPath);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void MatchesTheReferenceImplementation(int batch)
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);
        var images = TinyModel.Images(batch, seed: 100 + batch);

        var embedding = session.Run("image", images, [batch, 1, 16, 16], out var shape);

        Assert.Equal([batch, 8L], shape);
        TinyModel.AssertClose(TinyModel.Reference(images, batch).Embedding, embedding);
    }

    [Fact]
    public void OneSessionServesEveryBatchSize()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);
        var all = TinyModel.Images(12, seed: 7);
        var (expected, _) = TinyModel.Reference(all, 12);

        // Each image's embedding must not depend on which batch it was run in.
        foreach (var batch in new[] { 3, 1, 12, 5 })
        {
            var embedding = session.Run("image", all.AsSpan(0, batch * TinyModel.ImageElements), [batch, 1, 16, 16], out var shape);
            Assert.Equal([batch, 8L], shape);
            TinyModel.AssertClose(expected.AsSpan(0, batch * 8), embedding);
        }
    }

    [Fact]
    public void ReturnsEveryRequestedOutputByName()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);
        var images = TinyModel.Images(4, seed: 3);
        var (embedding, pooled) = TinyModel.Reference(images, 4);

        var all = session.Run(new Dictionary<string, OnnxTensor> { ["image"] = new(images, 4, 1, 16, 16) });
        Assert.Equal(["embedding", "pooled"], all.Keys);
        TinyModel.AssertClose(embedding, all["embedding"].Data.Span);
        TinyModel.AssertClose(pooled, all["pooled"].Data.Span);
        Assert.Equal([4L, 8], all["pooled"].Shape);

        var onlyPooled = session.Run(new Dictionary<string, OnnxTensor> { ["image"] = new(images, 4, 1, 16, 16) }, ["pooled"]);
        Assert.Equal("pooled", Assert.Single(onlyPooled.Keys));
        TinyModel.AssertClose(pooled, onlyPooled["pooled"].Data.Span);
    }

    [Fact]
    public void FeedsSeveralInputsAtOnce()
    {
        using var session = OnnxSession.FromFile(TinyModel.PairPath);
        Assert.Equal(["a", "b"], session.Inputs.Select(i => i.Name));
        Assert.Equal(["sum", "product"], session.Outputs.Select(o => o.Name));
        float[] a = [1, 2, 3, 4, 5, 6, 7, 8];
        float[] b = [0.5f, -1, 2, 10, -3, 0, 1.5f, 2];

        // Inputs given in the opposite order to the model's, outputs asked for in reverse too.
        var results = session.Run(
            new Dictionary<string, OnnxTensor> { ["b"] = new(b, 2, 4), ["a"] = new(a, 2, 4) },
            ["product", "sum"]);

        Assert.Equal(["product", "sum"], results.Keys);
        Assert.Equal(a.Zip(b, (x, y) => x + y), results["sum"].Data.ToArray());
        Assert.Equal(a.Zip(b, (x, y) => x * y), results["product"].Data.ToArray());
        Assert.Equal([2L, 4], results["sum"].Shape);
    }

    [Fact]
    public void InputsMayBeSlicesOfLargerBuffers()
    {
        using var session = OnnxSession.FromFile(TinyModel.PairPath);
        var buffer = Enumerable.Range(0, 20).Select(i => (float)i).ToArray();
        var a = new ReadOnlyMemory<float>(buffer, 3, 4);
        var b = new ReadOnlyMemory<float>(buffer, 11, 4);

        var sum = session.Run(new Dictionary<string, OnnxTensor> { ["a"] = new(a, 1, 4), ["b"] = new(b, 1, 4) }, ["sum"])["sum"];

        Assert.Equal([14f, 16, 18, 20], sum.Data.ToArray());
    }

    [Fact]
    public void LoadsFromBytesLikeFromFile()
    {
        var images = TinyModel.Images(2, seed: 11);
        using var fromFile = OnnxSession.FromFile(TinyModel.TinyPath);
        using var fromBytes = OnnxSession.FromBytes(File.ReadAllBytes(TinyModel.TinyPath));

        Assert.Null(fromBytes.ModelPath);
        Assert.Equal(fromFile.Inputs.Select(i => i.ToString()), fromBytes.Inputs.Select(i => i.ToString()));
        Assert.Equal(
            fromFile.Run("image", images, [2, 1, 16, 16], out _),
            fromBytes.Run("image", images, [2, 1, 16, 16], out _));
    }

    [Fact]
    public void DisposedSessionRefusesToRun()
    {
        var session = OnnxSession.FromFile(TinyModel.TinyPath);
        session.Dispose();
        session.Dispose(); // idempotent

        Assert.Throws<ObjectDisposedException>(() => session.Run("image", TinyModel.Images(1, 1), [1, 1, 16, 16], out _));
    }

    [Fact]
    public void PreCancelledRunThrowsBeforeTouchingOrt()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.Throws<OperationCanceledException>(
            () => session.Run("image", TinyModel.Images(1, 1), [1, 1, 16, 16], out _, cancelled.Token));
    }

    [Fact]
    public void CancellationStopsARunningModelInsideOrt()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath, new OnnxSessionOptions { IntraOpThreads = 1 });
        const int batch = 4096;
        var images = TinyModel.Images(batch, seed: 5);
        var timer = System.Diagnostics.Stopwatch.StartNew();
        session.Run("image", images, [batch, 1, 16, 16], out _);
        var runTime = timer.Elapsed;

        OperationCanceledException? stoppedByOrt = null;
        for (var attempt = 0; attempt < 8 && stoppedByOrt is null; attempt++)
        {
            using var cts = new CancellationTokenSource();
            // Cancel a third of the way into the run, from another thread, the way an aborted request would.
            var canceller = new Thread(() =>
            {
                var wait = System.Diagnostics.Stopwatch.StartNew();
                while (wait.Elapsed < runTime / 3) Thread.SpinWait(100);
                cts.Cancel();
            });
            canceller.Start();
            try
            {
                session.Run("image", images, [batch, 1, 16, 16], out _, cts.Token);
            }
            catch (OperationCanceledException e) when (e.InnerException is OnnxRuntimeException)
            {
                stoppedByOrt = e;
            }
            catch (OperationCanceledException)
            {
                // Cancelled before the run started; try again.
            }
            canceller.Join();
        }

        Assert.NotNull(stoppedByOrt);
        Assert.Contains("terminate", ((OnnxRuntimeException)stoppedByOrt.InnerException!).RuntimeMessage, StringComparison.OrdinalIgnoreCase);
        // The session stays usable after a terminated run.
        var one = TinyModel.Images(1, seed: 6);
        TinyModel.AssertClose(TinyModel.Reference(one, 1).Embedding, session.Run("image", one, [1, 1, 16, 16], out _));
    }

    private static string TinyPath() => TinyModel.TinyPath;
}
