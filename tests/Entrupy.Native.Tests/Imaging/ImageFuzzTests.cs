using Entrupy.Native.Imaging;
using static Entrupy.Native.Tests.Imaging.ImageFixtures;

namespace Entrupy.Native.Tests.Imaging;

public class ImageFuzzTests
{
    // Small limits keep a mutated header from making a big (if harmless) allocation slow the suite.
    private static readonly DecodeLimits FuzzLimits = new() { MaxWidth = 2048, MaxHeight = 2048, MaxPixels = 1 << 20 };

    [Fact]
    public void MutatedFilesEitherDecodeOrFailWithImageDecodeException()
    {
        var sources = Decodable.Append("cmyk.jpg").Select(Bytes)
            .Append(ImageCodec.EncodeJpeg(Expected("rgb-smooth"), 85, JpegSubsampling.Chroma420, progressive: true))
            .ToArray();
        var random = new Random(20261122);
        var outcomes = new Dictionary<string, int>();
        const int iterations = 4000;

        for (int i = 0; i < iterations; i++)
        {
            var data = Mutate(sources[random.Next(sources.Length)], random);
            var format = random.Next(2) == 0 ? PixelFormat.Gray8 : PixelFormat.Rgb8;
            var alpha = (AlphaHandling)random.Next(3);
            string outcome;
            try
            {
                var image = ImageCodec.Decode(data, format, FuzzLimits, alpha);
                Assert.Equal((long)image.Width * image.Height * (int)format, image.Pixels.LongLength);
                outcome = "decoded";
            }
            catch (ImageDecodeException ex)
            {
                outcome = ex.Reason.ToString();
            }
            // Any other exception type escapes and fails the test; a native crash kills the run.
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        // The mutations must exercise both paths, or the test proves nothing.
        Assert.True(outcomes.GetValueOrDefault("decoded") > iterations / 50, Describe(outcomes));
        Assert.True(outcomes.GetValueOrDefault("Corrupt") > iterations / 10, Describe(outcomes));
        Assert.True(outcomes.GetValueOrDefault("Truncated") > 0, Describe(outcomes));
    }

    private static string Describe(Dictionary<string, int> outcomes) =>
        string.Join(", ", outcomes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}"));

    private static byte[] Mutate(byte[] source, Random random)
    {
        var data = (byte[])source.Clone();
        switch (random.Next(6))
        {
            case 0:  // a few random bytes anywhere
                for (int k = random.Next(1, 5); k > 0; k--) data[random.Next(data.Length)] = (byte)random.Next(256);
                break;
            case 1:  // single bit flips
                for (int k = random.Next(1, 4); k > 0; k--) data[random.Next(data.Length)] ^= (byte)(1 << random.Next(8));
                break;
            case 2:  // header region: where sizes and lengths live
                for (int k = random.Next(1, 3); k > 0; k--) data[random.Next(Math.Min(64, data.Length))] = (byte)random.Next(256);
                break;
            case 3:  // truncation plus damage
                data = data[..random.Next(1, data.Length)];
                data[random.Next(data.Length)] ^= 0xFF;
                break;
            case 4:  // a block of bytes copied from elsewhere in the file
            {
                int length = random.Next(1, Math.Min(64, data.Length / 2));
                Array.Copy(source, random.Next(data.Length - length), data, random.Next(data.Length - length), length);
                break;
            }
            default:  // interesting values at a random spot
            {
                byte[] values = [0x00, 0xFF, 0x7F, 0x80];
                int at = random.Next(data.Length - 4);
                for (int k = 0; k < 4; k++) data[at + k] = values[random.Next(values.Length)];
                break;
            }
        }
        return data;
    }
}
