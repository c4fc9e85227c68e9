using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Entrupy.Bench.Registry;

/// <summary>
/// Distinct items for the registry benchmarks: <c>models/fingerprint/make_dataset.py</c> (procedural surfaces through the
/// capture simulator; fixed seed) writes one enrolment capture and one probe capture per item. Kept in a cache folder
/// keyed by size and seed, so a second run does not pay for generation again.
/// </summary>
internal sealed record CaptureSet(string Folder, string[] ItemIds, byte[][] Enrolments, (string ItemId, byte[] Image)[] Probes)
{
    public static async Task<CaptureSet> LoadOrCreateAsync(BenchContext context, int items, int seed, int maxSide, string? cacheFolder)
    {
        var folder = cacheFolder ?? Path.Combine(Path.GetTempPath(), $"entrupy-bench-items-{items}-seed{seed}-max{maxSide}-v2");
        var complete = Path.Combine(folder, ".complete");
        if (!File.Exists(complete))
        {
            context.Progress($"generating {items} distinct items (make_dataset.py --seed {seed}, max side {maxSide}) into {folder}");
            var clock = Stopwatch.StartNew();
            var start = new ProcessStartInfo("/usr/bin/python3") { UseShellExecute = false };
            foreach (var a in new[]
                     {
                         Path.Combine(context.RepoRoot, "models", "fingerprint", "make_dataset.py"),
                         "--items", items.ToString(CultureInfo.InvariantCulture), "--probes-per-item", "1",
                         "--seed", seed.ToString(CultureInfo.InvariantCulture), "--max-size", maxSide.ToString(CultureInfo.InvariantCulture),
                         "--out", folder,
                     })
                start.ArgumentList.Add(a);
            using var process = Process.Start(start) ?? throw new InvalidOperationException("could not run make_dataset.py");
            await process.WaitForExitAsync();
            if (process.ExitCode != 0) throw new InvalidOperationException($"make_dataset.py failed with exit code {process.ExitCode}");
            await File.WriteAllTextAsync(complete, DateTime.UtcNow.ToString("O"));
            context.Progress($"generated in {clock.Elapsed.TotalSeconds:0.0} s");
        }

        var gallery = File.ReadAllLines(Path.Combine(folder, "gallery.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        var probes = File.ReadAllLines(Path.Combine(folder, "probes.csv")).Skip(1).Select(l => l.Split(','))
            .Where(p => p[2].Length > 0)
            .Select(p => (p[2], File.ReadAllBytes(Path.Combine(folder, p[1])))).ToArray();
        return new CaptureSet(folder, [.. gallery.Select(g => g[0])], [.. gallery.Select(g => File.ReadAllBytes(Path.Combine(folder, g[1])))], probes);
    }
}

/// <summary>Latency figures in milliseconds.</summary>
internal sealed record LatencySummary(int Count, double P50, double P90, double P99, double Max)
{
    public static LatencySummary Of(IEnumerable<double> milliseconds)
    {
        var sorted = milliseconds.Order().ToArray();
        double At(double p) => sorted.Length == 0 ? double.NaN : Math.Round(sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(p * sorted.Length))], 2);
        return new LatencySummary(sorted.Length, At(0.50), At(0.90), At(0.99), sorted.Length == 0 ? double.NaN : Math.Round(sorted[^1], 2));
    }

    public void AddTo(Dictionary<string, object?> figures, string prefix)
    {
        figures[$"{prefix}_p50_ms"] = P50;
        figures[$"{prefix}_p90_ms"] = P90;
        figures[$"{prefix}_p99_ms"] = P99;
        figures[$"{prefix}_max_ms"] = Max;
    }
}

/// <summary>
/// The silo's own account of where each request's time went (its <c>Server-Timing</c> header), gathered over a run:
/// the difference between the client's latency and the server's <c>total</c> is queueing, HTTP and the client itself.
/// </summary>
internal sealed class ServerTimingLog
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, System.Collections.Concurrent.ConcurrentBag<double>> stages = new(StringComparer.Ordinal);
    private int responses;

    /// <summary>Records the stages of one response (ignored when it has no Server-Timing header).</summary>
    public void Add(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Server-Timing", out var values)) return;
        Interlocked.Increment(ref responses);
        foreach (var entry in values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            var parts = entry.Split(';', StringSplitOptions.TrimEntries);
            var duration = parts.Skip(1).FirstOrDefault(p => p.StartsWith("dur=", StringComparison.Ordinal));
            if (duration is null || !double.TryParse(duration.AsSpan(4), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var ms)) continue;
            stages.GetOrAdd(parts[0], _ => []).Add(ms);
        }
    }

    /// <summary>
    /// Adds <c>{prefix}_{stage}_p50_ms</c> / <c>_p99_ms</c> for every stage seen, in a stable order, and for a stage
    /// only some responses had (<c>gc</c>: a collection paused them) <c>_requests</c>, how many had it.
    /// </summary>
    public void AddTo(Dictionary<string, object?> figures, string prefix)
    {
        foreach (var (stage, summary) in Summaries())
        {
            var name = stage.Replace('-', '_');
            figures[$"{prefix}_{name}_p50_ms"] = summary.P50;
            figures[$"{prefix}_{name}_p99_ms"] = summary.P99;
            if (summary.Count < responses) figures[$"{prefix}_{name}_requests"] = summary.Count;
        }
    }

    /// <summary>One line for progress output: each stage's p50/p99.</summary>
    public string Describe() => string.Join(", ", Summaries().Select(s => $"{s.Stage} {s.Latency.P50}/{s.Latency.P99}"));

    private IEnumerable<(string Stage, LatencySummary Latency)> Summaries() =>
        stages.OrderBy(s => s.Key == "total").ThenBy(s => s.Key, StringComparer.Ordinal).Select(s => (s.Key, LatencySummary.Of(s.Value)));
}

/// <summary>
/// One tab-separated line per request (<c>--compare-log FILE</c>): index, item, image bytes, image format, HTTP status and
/// the silo's Server-Timing header, to see which requests make the tail and in which stage.
/// </summary>
internal sealed class RequestLog : IDisposable
{
    private readonly StreamWriter writer;

    public RequestLog(string path)
    {
        writer = new StreamWriter(path, append: false) { AutoFlush = false };
        writer.WriteLine("index\titem\timage_bytes\timage_format\tstatus\tserver_timing");
    }

    public void Add(int index, string item, byte[] image, HttpResponseMessage response)
    {
        var format = image is [0x89, (byte)'P', ..] ? "png" : image is [0xFF, 0xD8, ..] ? "jpeg" : "other";
        var timing = response.Headers.TryGetValues("Server-Timing", out var values) ? string.Join(", ", values) : "";
        lock (writer) writer.WriteLine($"{index}\t{item}\t{image.Length}\t{format}\t{(int)response.StatusCode}\t{timing}");
    }

    public void Dispose()
    {
        lock (writer) writer.Dispose();
    }
}

/// <summary>HTTP load against one silo: closed-loop registrations, open-loop (paced) requests, traces.</summary>
internal static class RegistryLoad
{
    /// <summary>Result of a registration run.</summary>
    public sealed record RegistrationRun(int Registered, int Failed, double Seconds, LatencySummary Latency, string? FirstError)
    {
        public double PerSecond => Registered / Seconds;
    }

    /// <summary>A multipart body with one image part (and an optional metadata part).</summary>
    public static MultipartFormDataContent Captures(byte[] image, string? metadataJson = null)
    {
        var form = new MultipartFormDataContent();
        var part = new ByteArrayContent(image);
        // PNG starts with 0x89 'P'; everything else make_dataset writes is JPEG.
        part.Headers.ContentType = new MediaTypeHeaderValue(image.Length > 1 && image[0] == 0x89 ? "image/png" : "image/jpeg");
        form.Add(part, "image", "capture");
        if (metadataJson is not null)
        {
            var json = new StringContent(metadataJson);
            json.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            form.Add(json, "metadata", "metadata.json");
        }
        return form;
    }

    /// <summary>A multipart POST with its Idempotency-Key (every POST of the API needs one).</summary>
    public static HttpRequestMessage Post(string path, byte[] image, string idempotencyKey, string? metadataJson = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Captures(image, metadataJson) };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return request;
    }

    /// <summary>POST /items/{id}/registrations for items[from..to) with <paramref name="concurrency"/> callers in a closed loop.</summary>
    public static async Task<RegistrationRun> RegisterAsync(HttpClient tenant, CaptureSet set, int from, int to, int concurrency, string runTag)
    {
        var latencies = new double[to - from];
        var next = from - 1;
        var failed = 0;
        string? firstError = null;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < to; i = Interlocked.Increment(ref next))
            {
                var started = Stopwatch.GetTimestamp();
                using var request = Post($"/items/{set.ItemIds[i]}/registrations", set.Enrolments[i], $"{runTag}-{i}",
                    """{"device_id":"bench","operator_id":"bench"}""");
                using var response = await tenant.SendAsync(request);
                latencies[i - from] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.Created)
                {
                    Interlocked.Increment(ref failed);
                    var text = await response.Content.ReadAsStringAsync();
                    Interlocked.CompareExchange(ref firstError, $"{set.ItemIds[i]}: {(int)response.StatusCode} {text}", null);
                }
            }
        })));
        var seconds = clock.Elapsed.TotalSeconds;
        return new RegistrationRun(to - from - failed, failed, seconds, LatencySummary.Of(latencies), firstError);
    }

    /// <summary>
    /// Open-loop pacing: request i is due at start + i / rate whatever happened to earlier ones, and its latency is
    /// measured from when it was due (so a stall shows up in the percentiles instead of silently lowering the rate).
    /// </summary>
    public static async Task<(LatencySummary Latency, int Errors, double AchievedPerSecond, string? FirstError, LatencySummary SendLateness)> PacedAsync(
        int ratePerSecond, TimeSpan duration, Func<int, Task<HttpResponseMessage>> send, HttpStatusCode expected)
    {
        var total = (int)(ratePerSecond * duration.TotalSeconds);
        var latencies = new double[total];
        var lateness = new double[total];
        var errors = 0;
        string? firstError = null;
        var tasks = new Task[total];

        async Task SendOne(int index, long due)
        {
            using var response = await send(index);
            latencies[index] = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
            if (response.StatusCode != expected)
            {
                Interlocked.Increment(ref errors);
                var text = await response.Content.ReadAsStringAsync();
                Interlocked.CompareExchange(ref firstError, $"{(int)response.StatusCode} {text}", null);
            }
        }

        // The pacer has a thread of its own and starts each request on it: a timer continuation queued behind the
        // thread pool's other work would send late, and that lateness (still counted, from the due time) would be
        // this client's, not the silo's.
        var start = Stopwatch.GetTimestamp();
        var paced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pacer = new Thread(() =>
        {
            for (var i = 0; i < total; i++)
            {
                var due = start + (long)(i * (double)Stopwatch.Frequency / ratePerSecond);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due) - TimeSpan.FromMilliseconds(0.5);
                if (wait > TimeSpan.Zero) Thread.Sleep(wait);
                while (Stopwatch.GetTimestamp() < due) Thread.SpinWait(20);
                lateness[i] = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
                tasks[i] = SendOne(i, due); // an async method: whatever it throws lands in its task
            }
            paced.SetResult();
        }) { IsBackground = true, Name = "bench pacer" };
        pacer.Start();
        await paced.Task;
        await Task.WhenAll(tasks);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return (LatencySummary.Of(latencies), errors, total / seconds, firstError, LatencySummary.Of(lateness));
    }

    /// <summary>Reads a JSON body.</summary>
    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
        => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
