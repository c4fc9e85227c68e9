using Entrupy.Fingerprinting;
using Entrupy.Native.Imaging;

namespace Entrupy.Bench.Fingerprinting;

/// <summary>The captures the engine benchmarks (embed, inference) feed the model, made the same way for both.</summary>
internal static class DevSetCaptures
{
    /// <summary>
    /// Centre <paramref name="size"/>² crops of the captures in <paramref name="folder"/> (ordinal file order), re-encoded
    /// alternately as PNG and JPEG (quality 90) so both decoders are measured.
    /// </summary>
    /// <exception cref="InvalidOperationException">Fewer than <see cref="FingerprintEngine.MaxBatchSize"/> + 1 usable captures.</exception>
    public static List<byte[]> CentreCrops(string folder, int size)
    {
        var list = new List<byte[]>();
        foreach (var file in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
        {
            var image = ImageCodec.Decode(File.ReadAllBytes(file), PixelFormat.Gray8);
            if (image.Width < size || image.Height < size) continue;
            var crop = new byte[size * size];
            int x0 = (image.Width - size) / 2, y0 = (image.Height - size) / 2;
            for (var y = 0; y < size; y++)
                image.Pixels.AsSpan((y0 + y) * image.Width + x0, size).CopyTo(crop.AsSpan(y * size));
            list.Add(list.Count % 2 == 0
                ? ImageCodec.EncodePng(crop, size, size, PixelFormat.Gray8)
                : ImageCodec.EncodeJpeg(crop, size, size, PixelFormat.Gray8, 90));
        }
        if (list.Count < FingerprintEngine.MaxBatchSize + 1) throw new InvalidOperationException($"too few captures in {folder}");
        return list;
    }
}
