namespace Entrupy.Native.Tests;

public class SmokeTests
{
    [Fact]
    public void NativeLibrariesShipNextToTests()
    {
        Assert.True(File.Exists(NativeLibraries.Locate("libentrupy_native.so")));
        Assert.True(File.Exists(Entrupy.Native.Onnx.OnnxRuntime.LibraryPath));
    }
}
