using Entrupy.Native.Imaging;

namespace Entrupy.Fingerprinting.Tests;

[Collection(EngineCollection.Name)]
public sealed class QualityGateTests(EngineFixture fx)
{
    private DecodedImage Sharp() => ImageCodec.Decode(fx.ImageBytes("g4.png"), PixelFormat.Gray8);

    private static byte[] Png(byte[] gray, int width, int height) => ImageCodec.EncodePng(gray, width, height, PixelFormat.Gray8);

    private static byte[] Uniform(byte value, int side = 256) => Png(Enumerable.Repeat(value, side * side).ToArray(), side, side);

    private static byte[] BoxBlur(DecodedImage image, int radius, int passes)
    {
        int w = image.Width, h = image.Height;
        var a = image.Pixels.Select(p => (double)p).ToArray();
        var b = new double[a.Length];
        for (var pass = 0; pass < passes; pass++)
        {
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                {
                    double s = 0; var n = 0;
                    for (var d = -radius; d <= radius; d++) { var xx = Math.Clamp(x + d, 0, w - 1); s += a[y * w + xx]; n++; }
                    b[y * w + x] = s / n;
                }
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                {
                    double s = 0; var n = 0;
                    for (var d = -radius; d <= radius; d++) { var yy = Math.Clamp(y + d, 0, h - 1); s += b[yy * w + x]; n++; }
                    a[y * w + x] = s / n;
                }
        }
        return Png(a.Select(v => (byte)Math.Round(v)).ToArray(), w, h);
    }

    private void AssertRejected(byte[] capture, CaptureRejection reason, string hint)
    {
        var ex = Assert.Throws<CaptureRejectedException>(() => fx.Engine.Extract(capture, FingerprintPurpose.Probe));
        Assert.Equal(reason, ex.Reason);
        Assert.Contains(hint, ex.Message, StringComparison.OrdinalIgnoreCase);
        var batch = fx.Engine.ExtractBatch([capture], FingerprintPurpose.Probe);
        Assert.Equal(reason, batch[0].Rejection);
        Assert.Null(batch[0].Fingerprint);
    }

    [Fact]
    public void Sharp_capture_passes()
    {
        var report = fx.Engine.Assess(fx.ImageBytes("g4.png"));
        Assert.True(report.Passes, report.Message);
        Assert.True(report.Focus > 10 * fx.Model.QualityGate.FocusMin);
    }

    [Fact]
    public void Heavily_blurred_capture_is_out_of_focus()
    {
        var blurred = BoxBlur(Sharp(), radius: 8, passes: 3);
        var report = fx.Engine.Assess(blurred);
        Assert.Equal(CaptureRejection.OutOfFocus, report.Rejection);
        AssertRejected(blurred, CaptureRejection.OutOfFocus, "refocus");
    }

    [Fact]
    public void Black_capture_is_underexposed() => AssertRejected(Uniform(0), CaptureRejection.Underexposed, "too dark");

    [Fact]
    public void White_capture_is_overexposed() => AssertRejected(Uniform(255), CaptureRejection.Overexposed, "too bright");

    [Fact]
    public void Flat_capture_has_low_contrast() => AssertRejected(Uniform(128), CaptureRejection.LowContrast, "no texture");

    [Fact]
    public void Capture_with_saturated_highlights_is_clipped()
    {
        var image = Sharp();
        var pixels = (byte[])image.Pixels.Clone();
        for (var i = 0; i < pixels.Length; i++) if (i % image.Width < image.Width / 5) pixels[i] = 255;
        AssertRejected(Png(pixels, image.Width, image.Height), CaptureRejection.Clipped, "glare");
    }

    [Fact]
    public void Tiny_capture_is_too_small()
    {
        var image = Sharp();
        var side = QualityGateLimits.DefaultMinimumSide - 1;
        var crop = new byte[side * side];
        for (var y = 0; y < side; y++) image.Pixels.AsSpan(y * image.Width, side).CopyTo(crop.AsSpan(y * side));
        AssertRejected(Png(crop, side, side), CaptureRejection.TooSmall, "full resolution");
    }

    [Fact]
    public void Non_image_and_damaged_files_are_rejected()
    {
        AssertRejected("this is not an image"u8.ToArray(), CaptureRejection.NotAnImage, "not a JPEG");
        AssertRejected([], CaptureRejection.NotAnImage, "not a JPEG");
        var png = fx.ImageBytes("g4.png");
        AssertRejected(png[..(png.Length / 2)], CaptureRejection.Corrupt, "damaged");
    }

    [Fact]
    public void Minimum_side_capture_is_accepted()
    {
        var image = Sharp();
        var side = QualityGateLimits.DefaultMinimumSide;
        var crop = new byte[side * side];
        for (var y = 0; y < side; y++) image.Pixels.AsSpan(y * image.Width, side).CopyTo(crop.AsSpan(y * side));
        var print = fx.Engine.Extract(Png(crop, side, side), FingerprintPurpose.Probe);
        Assert.True(print.KeypointCount > 100);
    }
}
