using Entrupy.Native.Onnx;

namespace Entrupy.Native.Tests.Onnx;

/// <summary>Runs whose outputs ORT writes straight into caller buffers.</summary>
[Collection(nameof(OnnxIsolatedCollection))]
public sealed class OnnxRunIntoTests
{
    private static Dictionary<string, OnnxTensor> Images(float[] images, int batch) =>
        new() { ["image"] = new(images, batch, 1, TinyModel.Side, TinyModel.Side) };

    [Fact]
    public void Writes_the_same_values_as_Run_into_slices_of_larger_buffers()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);
        const int batch = 5;
        var images = TinyModel.Images(batch, seed: 21);
        var (embedding, pooled) = TinyModel.Reference(images, batch);
        // Guard values around each slice prove ORT wrote exactly the slice.
        var embeddingBuffer = Enumerable.Repeat(-7f, batch * 8 + 10).ToArray();
        var pooledBuffer = Enumerable.Repeat(-7f, batch * 8 + 6).ToArray();

        session.RunInto(Images(images, batch), new Dictionary<string, OnnxOutputBuffer>
        {
            ["pooled"] = new(pooledBuffer.AsMemory(3, batch * 8), batch, 8),
            ["embedding"] = new(embeddingBuffer.AsMemory(5, batch * 8), batch, 8),
        });

        TinyModel.AssertClose(embedding, embeddingBuffer.AsSpan(5, batch * 8));
        TinyModel.AssertClose(pooled, pooledBuffer.AsSpan(3, batch * 8));
        Assert.All(embeddingBuffer[..5].Concat(embeddingBuffer[(5 + batch * 8)..]), v => Assert.Equal(-7f, v));
        Assert.All(pooledBuffer[..3].Concat(pooledBuffer[(3 + batch * 8)..]), v => Assert.Equal(-7f, v));
        var viaRun = session.Run(Images(images, batch));
        Assert.Equal(viaRun["embedding"].Data.ToArray(), embeddingBuffer.AsSpan(5, batch * 8).ToArray());
    }

    [Fact]
    public void Reused_buffers_hold_each_runs_own_result()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);
        var buffer = new float[2 * 8];
        var outputs = new Dictionary<string, OnnxOutputBuffer> { ["embedding"] = new(buffer, 2, 8) };
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var images = TinyModel.Images(2, seed);
            session.RunInto(Images(images, 2), outputs);
            TinyModel.AssertClose(TinyModel.Reference(images, 2).Embedding, buffer);
        }
    }

    [Fact]
    public void Buffers_that_do_not_fit_the_model_or_the_inputs_are_refused()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);
        var images = TinyModel.Images(4, seed: 5);

        // A fixed dimension or the rank disagrees with the model: refused before ORT runs.
        Assert.Throws<ArgumentException>(() => session.RunInto(Images(images, 4),
            new Dictionary<string, OnnxOutputBuffer> { ["embedding"] = new(new float[4 * 7], 4, 7) }));
        Assert.Throws<ArgumentException>(() => session.RunInto(Images(images, 4),
            new Dictionary<string, OnnxOutputBuffer> { ["embedding"] = new(new float[32], 32) }));
        Assert.Throws<ArgumentException>(() => session.RunInto(Images(images, 4),
            new Dictionary<string, OnnxOutputBuffer> { ["nope"] = new(new float[32], 4, 8) }));
        // The dynamic batch dimension disagrees with the input's: ORT itself refuses to write.
        Assert.Throws<OnnxRuntimeException>(() => session.RunInto(Images(images, 4),
            new Dictionary<string, OnnxOutputBuffer> { ["embedding"] = new(new float[3 * 8], 3, 8) }));
        // The buffer and its shape must agree.
        Assert.Throws<ArgumentException>(() => new OnnxOutputBuffer(new float[31], 4, 8));

        // The session still works afterwards.
        var buffer = new float[32];
        session.RunInto(Images(images, 4), new Dictionary<string, OnnxOutputBuffer> { ["embedding"] = new(buffer, 4, 8) });
        TinyModel.AssertClose(TinyModel.Reference(images, 4).Embedding, buffer);
    }

    [Fact]
    public void Pre_cancelled_run_throws_without_touching_the_buffers()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);
        var buffer = Enumerable.Repeat(3f, 8).ToArray();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => session.RunInto(Images(TinyModel.Images(1, 1), 1),
            new Dictionary<string, OnnxOutputBuffer> { ["embedding"] = new(buffer, 1, 8) }, cts.Token));
        Assert.All(buffer, v => Assert.Equal(3f, v));
    }
}
