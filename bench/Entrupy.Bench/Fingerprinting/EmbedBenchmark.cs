using System.Diagnostics;
using Entrupy.Fingerprinting;
using Entrupy.Native.Imaging;
using Entrupy.Native.Onnx;

namespace Entrupy.Bench.Fingerprinting;

/// <summary>
/// Embedding throughput at 256×256: the whole engine (decode, quality gate, normalise, ONNX model, keypoints,
/// descriptors, global vector) beside the model's raw ONNX Runtime throughput, same threads, same run.
/// </summary>
public sealed class EmbedBenchmark : IBenchmark
{
    public string Name => "embed";

    public string Description => "fingerprint embedding captures/s at 256x256 (probe records) vs the model's raw ORT throughput";

    public Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        var workers = Math.Max(1, Environment.ProcessorCount);
        var seconds = args.Contains("--quick") ? 2.0 : 6.0;
        var model = FingerprintModel.LoadDefault();
        // One single-threaded session per worker: throughput scales by parallel requests, not intra-op threads.
        var options = new OnnxSessionOptions { IntraOpThreads = 1, InterOpThreads = 1 };

        var captures = MakeCaptures(Path.Combine(context.RepoRoot, "models", "fingerprint", "devset", "images"), 256);
        context.Progress($"{captures.Count} captures of 256x256 (PNG and JPEG), {workers} workers, {seconds:0.#} s each");

        var engines = Enumerable.Range(0, workers).Select(_ => new FingerprintEngine(model, options)).ToArray();
        var batch = FingerprintEngine.MaxBatchSize;
        var ours = Measure(workers, seconds, w =>
        {
            var start = Random.Shared.Next(captures.Count - batch);
            var results = engines[w].ExtractBatch(captures.GetRange(start, batch), FingerprintPurpose.Probe);
            if (results.Any(r => !r.Succeeded)) throw new InvalidOperationException("a benchmark capture was rejected");
            return batch;
        });

        var sessions = Enumerable.Range(0, workers).Select(_ => OnnxSession.FromFile(model.OnnxPath, options)).ToArray();
        var input = new float[batch * 256 * 256];
        for (var i = 0; i < input.Length; i++) input[i] = (i * 7919 % 256) / 255f;
        var inputName = sessions[0].Inputs[0].Name;
        var raw = Measure(workers, seconds, w =>
        {
            sessions[w].Run(new Dictionary<string, OnnxTensor> { [inputName] = new OnnxTensor(input, [batch, 1, 256, 256]) });
            return batch;
        });

        foreach (var e in engines) e.Dispose();
        foreach (var s in sessions) s.Dispose();
        return Task.FromResult(new Dictionary<string, object?>
        {
            ["model"] = $"{model.Id} {model.Version}",
            ["image_size"] = 256,
            ["batch"] = batch,
            ["workers"] = workers,
            ["ort_threads_per_session"] = 1,
            ["engine_captures_per_s"] = Math.Round(ours, 1),
            ["raw_ort_images_per_s"] = Math.Round(raw, 1),
            ["ratio_engine_over_raw"] = Math.Round(ours / raw, 3),
            ["target_captures_per_s"] = 500,
        });
    }

    private static double Measure(int workers, double seconds, Func<int, int> work)
    {
        for (var w = 0; w < workers; w++) work(w); // warm-up
        long done = 0;
        var sw = Stopwatch.StartNew();
        Parallel.For(0, workers, w =>
        {
            long n = 0;
            while (sw.Elapsed.TotalSeconds < seconds) n += work(w);
            Interlocked.Add(ref done, n);
        });
        return done / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Centre 256×256 crops of the dev set's captures, re-encoded alternately as PNG and JPEG.</summary>
    private static List<ReadOnlyMemory<byte>> MakeCaptures(string folder, int size)
    {
        var list = new List<ReadOnlyMemory<byte>>();
        foreach (var file in Directory.EnumerateFiles(folder).Order())
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
