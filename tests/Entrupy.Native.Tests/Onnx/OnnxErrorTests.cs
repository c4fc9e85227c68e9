using Entrupy.Native.Onnx;

namespace Entrupy.Native.Tests.Onnx;

[Collection(nameof(OnnxIsolatedCollection))]
public sealed class OnnxErrorTests : IDisposable
{
    private readonly string tempDir = Directory.CreateTempSubdirectory("entrupy-onnx-tests-").FullName;

    public void Dispose() => Directory.Delete(tempDir, recursive: true);

    [Fact]
    public void MissingModelFileNamesThePath()
    {
        var path = Path.Combine(tempDir, "does-not-exist.onnx");

        var e = Assert.Throws<FileNotFoundException>(() => OnnxSession.FromFile(path));

        Assert.Equal(path, e.FileName);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void RandomBytesFileFailsWithOrtsMessage()
    {
        var path = Path.Combine(tempDir, "random.onnx");
        var garbage = new byte[4096];
        new Random(42).NextBytes(garbage);
        File.WriteAllBytes(path, garbage);

        var e = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.FromFile(path));

        Assert.Equal(OnnxErrorCode.InvalidProtobuf, e.ErrorCode);
        Assert.Contains("Protobuf parsing failed", e.RuntimeMessage);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void TruncatedModelBytesFailWithOrtsMessage()
    {
        var model = File.ReadAllBytes(TinyModel.TinyPath);

        var e = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.FromBytes(model.AsMemory(0, model.Length / 2)));

        Assert.NotEqual(OnnxErrorCode.Ok, e.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(e.RuntimeMessage));
        Assert.Contains(e.RuntimeMessage, e.Message);
    }

    [Fact]
    public void EmptyModelFileFailsCleanly()
    {
        var path = Path.Combine(tempDir, "empty.onnx");
        File.WriteAllBytes(path, []);

        var e = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.FromFile(path));
        Assert.False(string.IsNullOrWhiteSpace(e.RuntimeMessage));
        Assert.Throws<ArgumentException>(() => OnnxSession.FromBytes(Array.Empty<byte>()));
    }

    [Fact]
    public void UnknownInputNameListsTheRealOnes()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);

        var e = Assert.Throws<ArgumentException>(() => session.Run("img", TinyModel.Images(1, 1), [1, 1, 16, 16], out _));

        Assert.Contains("no input named 'img'", e.Message);
        Assert.Contains("image: Float[-1,1,16,16]", e.Message);
    }

    [Fact]
    public void RankMismatchIsExplained()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);

        var e = Assert.Throws<ArgumentException>(() => session.Run("image", TinyModel.Images(1, 1), [1, 16, 16], out _));

        Assert.Contains("rank 4", e.Message);
        Assert.Contains("[1,16,16] (rank 3)", e.Message);
    }

    [Fact]
    public void FixedDimensionMismatchIsExplained()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);

        var e = Assert.Throws<ArgumentException>(() => session.Run("image", new float[2 * 15 * 16], [2, 1, 15, 16], out _));

        Assert.Contains("dimension 2 must be 16", e.Message);
    }

    [Fact]
    public void ElementCountMismatchIsExplained()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);

        var e = Assert.Throws<ArgumentException>(() => session.Run("image", TinyModel.Images(1, 1), [2, 1, 16, 16], out _));
        Assert.Contains("holds 512 elements but the data has 256", e.Message);

        var tensorError = Assert.Throws<ArgumentException>(() => new OnnxTensor(new float[10], 3, 4));
        Assert.Contains("holds 12 elements but the data has 10", tensorError.Message);
        Assert.Throws<ArgumentException>(() => new OnnxTensor(new float[4], -2, -2));
    }

    [Fact]
    public void EmptyBatchIsRejected()
    {
        using var session = OnnxSession.FromFile(TinyModel.TinyPath);

        var e = Assert.Throws<ArgumentException>(() => session.Run("image", ReadOnlySpan<float>.Empty, [0, 1, 16, 16], out _));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void MissingAndUnknownNamesInMultiInputRuns()
    {
        using var session = OnnxSession.FromFile(TinyModel.PairPath);
        var a = new OnnxTensor(new float[4], 1, 4);

        var missing = Assert.Throws<ArgumentException>(() => session.Run(new Dictionary<string, OnnxTensor> { ["a"] = a }));
        Assert.Contains("missing: b", missing.Message);

        var unknownOutput = Assert.Throws<ArgumentException>(
            () => session.Run(new Dictionary<string, OnnxTensor> { ["a"] = a, ["b"] = a }, ["difference"]));
        Assert.Contains("no output named 'difference'", unknownOutput.Message);

        var twice = Assert.Throws<ArgumentException>(
            () => session.Run(new Dictionary<string, OnnxTensor> { ["a"] = a, ["b"] = a }, ["sum", "sum"]));
        Assert.Contains("twice", twice.Message);
    }

    [Fact]
    public void InvalidOptionsAreRejectedUpFront()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxSessionOptions { IntraOpThreads = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxSessionOptions { InterOpThreads = -3 });
    }
}
