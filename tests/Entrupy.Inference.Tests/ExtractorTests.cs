using System.Buffers.Binary;
using Entrupy.Fingerprinting;
using Entrupy.Native.Imaging;
using Entrupy.Registry.Inference;
using Entrupy.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Inference.Tests;

[Collection(InferenceCollection.Name)]
public sealed class ExtractorTests(InferenceFixture fx)
{
    [Theory]
    [InlineData(ExtractionBatching.PerCall, FingerprintUse.Probe)]
    [InlineData(ExtractionBatching.PerCall, FingerprintUse.Enrolment)]
    [InlineData(ExtractionBatching.Coalesced, FingerprintUse.Probe)]
    [InlineData(ExtractionBatching.Coalesced, FingerprintUse.Enrolment)]
    public async Task ExtractionEqualsTheEngineByteForByte(ExtractionBatching batching, FingerprintUse use)
    {
        var grain = fx.Cluster(batching).Client.GetGrain<IFingerprintExtractorGrain>(0);
        var captures = fx.Captures.Take(4).ToArray();

        var results = await grain.Extract(captures, use);

        Assert.Equal(captures.Length, results.Length);
        var purpose = use == FingerprintUse.Enrolment ? FingerprintPurpose.Enrolment : FingerprintPurpose.Probe;
        for (var i = 0; i < captures.Length; i++)
        {
            var direct = fx.Engine.Extract(captures[i], purpose);
            Assert.Null(results[i].Rejection);
            Assert.Null(results[i].Message);
            Assert.Equal(direct.ToBytes(), results[i].Fingerprint);
            Assert.Equal(direct.GlobalVectorArray(), results[i].GlobalVector);
            var quality = Assert.IsType<Registry.Api.CaptureQuality>(results[i].Quality);
            Assert.Equal(i, quality.Index);
            Assert.Equal(direct.Quality.Width, quality.Width);
            Assert.Equal(direct.Quality.Height, quality.Height);
            Assert.Equal(direct.Quality.Focus, quality.Focus);
            Assert.Equal(direct.Quality.Mean * 255, quality.Mean, 9);
            Assert.Equal(direct.Quality.Contrast * 255, quality.Contrast, 9);
            Assert.Equal(direct.Quality.Clipped, quality.Clipped);
            // The bytes are a real fingerprint of this model: they parse, and the capture matches itself.
            var parsed = Fingerprint.FromBytes(results[i].Fingerprint, fx.Model);
            Assert.Equal(purpose, parsed.Purpose);
            Assert.True(parsed.KeypointCount > 0);
        }
        // Different captures give different fingerprints (a constant output would pass the equality above only if the engine were constant too).
        Assert.NotEqual(results[0].Fingerprint, results[1].Fingerprint);
    }

    [Fact]
    public async Task ModelInfoIsTheLoadedFingerprintModel()
    {
        var info = await fx.PerCall.Client.GetGrain<IFingerprintExtractorGrain>(0).GetModel();
        Assert.Equal(fx.Model.Id, info.Id);
        Assert.Equal(fx.Model.Version, info.Version);
        Assert.Equal(fx.Model.OperatingThreshold, info.OperatingThreshold);
        Assert.False(string.IsNullOrEmpty(info.Id));
    }

    public static TheoryData<string, ExtractionBatching> BadCaptures()
    {
        var data = new TheoryData<string, ExtractionBatching>();
        foreach (var name in Bad.Keys)
            foreach (var batching in new[] { ExtractionBatching.PerCall, ExtractionBatching.Coalesced })
                data.Add(name, batching);
        return data;
    }

    [Theory]
    [MemberData(nameof(BadCaptures))]
    public async Task BadCapturesGetTheirRejectionCodeBesideGoodOnes(string expectedCode, ExtractionBatching batching)
    {
        var grain = fx.Cluster(batching).Client.GetGrain<IFingerprintExtractorGrain>(0);
        var good = fx.Captures[0];

        var results = await grain.Extract([good, Bad[expectedCode](fx), good], FingerprintUse.Probe);

        Assert.Equal(3, results.Length);
        var bad = results[1];
        Assert.Equal(expectedCode, bad.Rejection);
        Assert.Null(bad.Fingerprint);
        Assert.Null(bad.GlobalVector);
        Assert.False(string.IsNullOrWhiteSpace(bad.Message));
        // Figures only exist when the capture was decoded and normalised.
        var decoded = expectedCode is not ("not_an_image" or "corrupt" or "too_large" or "too_small");
        Assert.Equal(decoded, bad.Quality is not null);
        if (decoded) Assert.Equal(1, bad.Quality!.Index);
        Assert.NotNull(results[0].Fingerprint);
        Assert.Equal(results[0].Fingerprint, results[2].Fingerprint);
        Assert.Equal(2, results[2].Quality!.Index);
    }

    [Fact]
    public async Task EmptyRequestGivesNoResults()
    {
        Assert.Empty(await fx.Coalesced.Client.GetGrain<IFingerprintExtractorGrain>(0).Extract([], FingerprintUse.Probe));
    }

    [Theory]
    [InlineData(ExtractionBatching.PerCall)]
    [InlineData(ExtractionBatching.Coalesced)]
    public async Task ManyParallelCallsGiveTheSameResultsAsSequentialOnes(ExtractionBatching batching)
    {
        var cluster = fx.Cluster(batching);
        var queue = cluster.SiloServices().GetRequiredService<CaptureBatchQueue>();
        var grain = cluster.Client.GetGrain<IFingerprintExtractorGrain>(0);
        var requests = Enumerable.Range(0, 24).Select(r => (
            Images: Enumerable.Range(0, 1 + r % 3).Select(k => (r + 3 * k) % 10 == 9 ? [1, 2, 3] : fx.Captures[(r + k) % fx.Captures.Count]).ToArray(),
            Use: r % 4 == 3 ? FingerprintUse.Enrolment : FingerprintUse.Probe)).ToList();
        var sequential = new List<ExtractionResult[]>();
        foreach (var (images, use) in requests) sequential.Add(await grain.Extract(images, use));
        // Coalescing is opportunistic: calls share a model run only when they overlap in the queue. On a loaded 2-core
        // machine one burst may arrive spread out, so up to three bursts are tried; each must give identical results,
        // and at least one must have shared runs.
        var coalescedRuns = new List<long>();
        for (var burst = 0; burst < 3; burst++)
        {
            var runsBefore = queue.Runs;
            var capturesBefore = queue.CapturesRun;

            // Released together (awaited, not blocking pool threads) so the calls really overlap.
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var parallel = requests.Select(r => Task.Run(async () =>
            {
                await start.Task;
                return await grain.Extract(r.Images, r.Use);
            })).ToArray();
            start.SetResult();
            var results = await Task.WhenAll(parallel);

            for (var r = 0; r < requests.Count; r++)
            {
                Assert.Equal(sequential[r].Length, results[r].Length);
                for (var i = 0; i < results[r].Length; i++)
                {
                    Assert.Equal(sequential[r][i].Fingerprint, results[r][i].Fingerprint);
                    Assert.Equal(sequential[r][i].GlobalVector, results[r][i].GlobalVector);
                    Assert.Equal(sequential[r][i].Rejection, results[r][i].Rejection);
                    Assert.Equal(sequential[r][i].Quality, results[r][i].Quality);
                }
            }
            Assert.Contains(results.SelectMany(r => r), x => x.Rejection == "not_an_image");
            Assert.Contains(results.SelectMany(r => r), x => x.Fingerprint is not null);
            if (batching != ExtractionBatching.Coalesced) break;
            Assert.Equal(requests.Sum(r => r.Images.Length), queue.CapturesRun - capturesBefore);
            coalescedRuns.Add(queue.Runs - runsBefore);
            if (coalescedRuns[^1] < requests.Count) break;
        }
        Assert.Contains(requests, r => r.Use == FingerprintUse.Enrolment);
        if (batching == ExtractionBatching.Coalesced)
        {
            // The parallel calls shared model runs: fewer runs than calls.
            Assert.True(coalescedRuns.Min() < requests.Count,
                $"{string.Join(", ", coalescedRuns)} model runs for {requests.Count} parallel calls in each burst: nothing was coalesced");
            // Every runner gives its slot back once the queue is empty (a leaked slot would stall later calls).
            for (var wait = 0; wait < 100 && queue.Runners > 0; wait++) await Task.Delay(10);
            Assert.Equal(0, queue.Runners);
            Assert.Equal(0, queue.Pending);
        }
        else
        {
            Assert.Equal(0, queue.Runs);
        }
    }

    /// <summary>Bad captures by the code they must get.</summary>
    private static readonly Dictionary<string, Func<InferenceFixture, byte[]>> Bad = new()
    {
        ["not_an_image"] = _ => "this is a text file, not a capture"u8.ToArray(),
        ["corrupt"] = f =>
        {
            var jpeg = f.Captures.First(c => c[0] == 0xFF && c[1] == 0xD8);
            return jpeg[..(jpeg.Length / 3)];
        },
        ["too_large"] = _ => PngHeaderOnly(100_000, 100_000),
        ["too_small"] = _ => InferenceFixture.GrayPng(100, 100, (x, y) => ((x * 7919 + y * 104729) % 251)),
        ["underexposed"] = _ => InferenceFixture.GrayPng(256, 256, (x, y) => 6 + (x * 31 + y * 17) % 9),
        ["overexposed"] = _ => InferenceFixture.GrayPng(256, 256, (x, y) => 240 + (x * 31 + y * 17) % 9),
        ["low_contrast"] = _ => InferenceFixture.GrayPng(256, 256, (x, y) => 128 + (x + y) % 2),
        ["clipped"] = _ => InferenceFixture.GrayPng(256, 256, (x, y) => (x * 7919 + y * 104729) % 7 < 3 ? 0 : (x * 13 + y * 29) % 7 < 2 ? 255 : 100 + (x * y) % 60),
        ["out_of_focus"] = _ => InferenceFixture.GrayPng(256, 256, (x, y) => (int)(128 + 50 * Math.Sin(x / 30.0) * Math.Cos(y / 40.0))),
    };

    /// <summary>A PNG whose header claims <paramref name="width"/>×<paramref name="height"/> (a decompression bomb's opening).</summary>
    private static byte[] PngHeaderOnly(int width, int height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth; colour type 0 = gray
        var png = new List<byte> { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };
        AddChunk(png, "IHDR", ihdr);
        AddChunk(png, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        AddChunk(png, "IEND", []);
        return [.. png];
    }

    private static void AddChunk(List<byte> png, string type, byte[] data)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.AddRange(length);
        var typed = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        png.AddRange(typed);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        png.AddRange(crc);
    }

    private static uint Crc32(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
