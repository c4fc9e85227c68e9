using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Entrupy.Bench.Cli;

/// <summary>
/// <c>bench/run cli</c>: registers N captures through <c>entrupy batch register</c> (a separate process, as an operator
/// runs it) and the same work directly through <c>EntrupyClient</c> with the same concurrency, against one local silo
/// (SQLite). Each path uses its own tenant so both start from an empty index; the direct run is split in two halves
/// around the CLI run so the silo's own warm-up drift cancels. Prints items/s of both and their ratio.
/// </summary>
/// <remarks>
/// The bench project does not reference the client projects (it is shared), so the built CLI and its
/// Entrupy.Client.dll are found next to each other (client/Entrupy.Device/bin/Release/net10.0, or --cli-dir) and the
/// client is driven by reflection. The silo is the built silo/Entrupy.Silo (or --silo-dir).
/// </remarks>
public sealed partial class CliBenchmark : IBenchmark
{
    private const string AdminKey = "bench-cli-admin-key-0123456789";

    public string Name => "cli";

    public string Description => "device CLI: batch register N captures (default 10,000) via `entrupy batch register` vs EntrupyClient directly; items/s and ratio";

    public async Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        var items = (int)Option(args, "--items", 10_000);
        var concurrency = (int)Option(args, "--concurrency", 8);
        var order = StringOption(args, "--order") ?? "sandwich";
        if (order is not ("sandwich" or "cli-first" or "direct-first")) throw new BenchOptionException("--order must be sandwich, cli-first or direct-first");
        var cliDir = StringOption(args, "--cli-dir") ?? Path.Combine(context.RepoRoot, "client", "Entrupy.Device", "bin", "Release", "net10.0");
        var siloDir = StringOption(args, "--silo-dir") ?? Path.Combine(context.RepoRoot, "silo", "Entrupy.Silo", "bin", "Release", "net10.0");
        var cliDll = Path.Combine(cliDir, "entrupy.dll");
        var siloDll = Path.Combine(siloDir, "Entrupy.Silo.dll");
        foreach (var f in new[] { cliDll, siloDll })
            if (!File.Exists(f)) throw new FileNotFoundException($"{f} is not built: run eng/setup.sh (or pass --cli-dir / --silo-dir)", f);

        var work = Path.Combine(Path.GetTempPath(), "entrupy-bench-cli-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        var images = Directory.GetFiles(Path.Combine(context.RepoRoot, "models", "fingerprint", "devset", "images"), "g_item*_0.*").Order(StringComparer.Ordinal).ToArray();
        context.Progress($"{items} items, concurrency {concurrency}, {images.Length} distinct devset captures cycled; work dir {work}");

        using var silo = await StartSiloAsync(siloDll, Path.Combine(work, "silo.db"), context);
        try
        {
            using var admin = new HttpClient { BaseAddress = silo.Address, Timeout = TimeSpan.FromSeconds(60) };
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
            var warmKey = await CreateTenantKeyAsync(admin, "bench-warmup");
            var cliKey = await CreateTenantKeyAsync(admin, "bench-cli");
            var directKey = await CreateTenantKeyAsync(admin, "bench-direct");

            var client = DirectClient.Load(cliDir);
            // The silo speeds up for a while (JIT tiering, caches): warm it until two rounds in a row agree, so the
            // half measured first is not penalised.
            context.Progress("warming up the silo (engine, index, HTTP)");
            double previous = 0;
            for (var round = 0; round < 20; round++)
            {
                var clock = Stopwatch.StartNew();
                var batch = Enumerable.Range(0, 64).Select(i => ($"warm-{round}-{i}", images[i % images.Length])).ToList();
                await client.RegisterAllAsync(silo.Address, warmKey, batch, concurrency);
                var rate = batch.Count / clock.Elapsed.TotalSeconds;
                context.Progress($"  warm-up round {round + 1}: {rate:0.0} items/s");
                if (round >= 2 && Math.Abs(rate - previous) <= 0.05 * previous) break;
                previous = rate;
            }

            // CLI: one manifest line per item, the whole run timed from process start to exit.
            var manifest = Path.Combine(work, "manifest.csv");
            var text = new StringBuilder("customer_item_id,image\n");
            for (var i = 0; i < items; i++) text.Append(CultureInfo.InvariantCulture, $"cli-{i},{images[i % images.Length]}\n");
            await File.WriteAllTextAsync(manifest, text.ToString());
            double cliSeconds = 0, directSeconds = 0;
            int cliSucceeded = 0, directFailures = 0;
            JsonElement report = default;
            async Task Cli()
            {
                context.Progress("CLI: entrupy batch register");
                (cliSeconds, report) = await RunCliAsync(cliDll, silo.Address, cliKey, manifest, concurrency, context);
                cliSucceeded = report.GetProperty("succeeded").GetInt32();
                context.Progress($"CLI: {cliSucceeded}/{items} in {cliSeconds:0.0} s");
            }
            async Task Direct(int from, int count)
            {
                context.Progress($"direct: EntrupyClient.RegisterAsync, items {from}..{from + count - 1}");
                var clock = Stopwatch.StartNew();
                directFailures += await client.RegisterAllAsync(silo.Address, directKey, Enumerable.Range(from, count).Select(i => ($"direct-{i}", images[i % images.Length])).ToList(), concurrency);
                directSeconds += clock.Elapsed.TotalSeconds;
                context.Progress($"direct: {count} in {clock.Elapsed.TotalSeconds:0.0} s");
            }
            // The silo keeps getting faster for a while (whichever half runs second meets a warmer silo), so by
            // default the direct run is split around the CLI run (direct ½, CLI, direct ½): a linear drift cancels.
            switch (order)
            {
                case "direct-first": await Direct(0, items); await Cli(); break;
                case "cli-first": await Cli(); await Direct(0, items); break;
                default: await Direct(0, items / 2); await Cli(); await Direct(items / 2, items - items / 2); break;
            }

            var cliRate = cliSucceeded / cliSeconds;
            var directRate = (items - directFailures) / directSeconds;
            return new Dictionary<string, object?>
            {
                ["items"] = items,
                ["concurrency"] = concurrency,
                ["order"] = order,
                ["cli_items_per_second"] = Math.Round(cliRate, 2),
                ["direct_items_per_second"] = Math.Round(directRate, 2),
                ["ratio"] = Math.Round(cliRate / directRate, 3),
                ["target_ratio"] = 0.9,
                // The CLI's own figure (first request to last answer), i.e. without process start-up.
                ["cli_reported_items_per_second"] = report.GetProperty("items_per_second").GetDouble(),
                ["cli_seconds"] = Math.Round(cliSeconds, 2),
                ["direct_seconds"] = Math.Round(directSeconds, 2),
                ["cli_failed"] = items - cliSucceeded,
                ["direct_failed"] = directFailures,
            };
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<(double Seconds, JsonElement Report)> RunCliAsync(string cliDll, Uri server, string key, string manifest, int concurrency, BenchContext context)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { cliDll, "batch", "register", "--manifest", manifest, "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture), "--json", "--progress-interval", "10" })
            psi.ArgumentList.Add(a);
        psi.Environment["ENTRUPY_SERVER"] = server.ToString();
        psi.Environment["ENTRUPY_API_KEY"] = key;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) context.Progress("  cli: " + e.Data); };
        process.BeginErrorReadLine();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        var seconds = clock.Elapsed.TotalSeconds;
        var last = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()
            ?? throw new InvalidOperationException($"the CLI printed nothing (exit {process.ExitCode})");
        return (seconds, JsonDocument.Parse(last).RootElement.Clone());
    }

    private static async Task<string> CreateTenantKeyAsync(HttpClient admin, string name)
    {
        var tenant = await PostAsync(admin, "/admin/tenants", new { name });
        var key = await PostAsync(admin, $"/admin/tenants/{tenant.GetProperty("id").GetString()}/keys", new { name = "bench" });
        return key.GetProperty("key").GetString()!;
    }

    private static async Task<JsonElement> PostAsync(HttpClient client, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<SiloHandle> StartSiloAsync(string siloDll, string dbPath, BenchContext context)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(siloDll)! };
        foreach (var a in new[]
                 {
                     siloDll, "--urls", "http://127.0.0.1:0", $"--Storage:Sqlite:Path={dbPath}", $"--Admin:BootstrapKey={AdminKey}",
                     // The benchmark measures the client side, not the per-key rate limiter.
                     "--RateLimits:TokenLimit=1000000", "--RateLimits:TokensPerPeriod=1000000",
                     "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
                 })
            psi.ArgumentList.Add(a);
        psi.Environment["Logging__Console__FormatterName"] = "simple";
        var process = Process.Start(psi)!;
        var address = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            log.Enqueue(e.Data);
            if (ListeningOn().Match(e.Data) is { Success: true } m) address.TrySetResult(new Uri(m.Groups[1].Value + "/"));
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (await Task.WhenAny(address.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(90))) != address.Task)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new InvalidOperationException("the silo did not start:\n" + string.Join('\n', log));
        }
        context.Progress($"silo on {address.Task.Result}");
        return new SiloHandle(process, address.Task.Result);
    }

    private sealed class SiloHandle(Process process, Uri address) : IDisposable
    {
        public Uri Address => address;

        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }
            process.Dispose();
        }
    }

    /// <summary>EntrupyClient loaded from the CLI's folder and driven by reflection (no project reference here).</summary>
    private sealed class DirectClient
    {
        private readonly Type optionsType;
        private readonly Type clientType;
        private readonly Type imageType;
        private readonly MethodInfo register;
        private readonly MethodInfo fromFile;

        private DirectClient(Assembly assembly)
        {
            optionsType = assembly.GetType("Entrupy.Client.EntrupyClientOptions", throwOnError: true)!;
            clientType = assembly.GetType("Entrupy.Client.EntrupyClient", throwOnError: true)!;
            imageType = assembly.GetType("Entrupy.Client.CaptureImage", throwOnError: true)!;
            register = clientType.GetMethod("RegisterAsync") ?? throw new MissingMethodException("EntrupyClient.RegisterAsync");
            fromFile = imageType.GetMethod("FromFileAsync") ?? throw new MissingMethodException("CaptureImage.FromFileAsync");
        }

        public static DirectClient Load(string directory)
        {
            AssemblyLoadContext.Default.Resolving += (alc, name) =>
            {
                var candidate = Path.Combine(directory, name.Name + ".dll");
                return File.Exists(candidate) ? alc.LoadFromAssemblyPath(candidate) : null;
            };
            return new DirectClient(AssemblyLoadContext.Default.LoadFromAssemblyPath(Path.Combine(directory, "Entrupy.Client.dll")));
        }

        /// <summary>Registers every (id, image) with bounded concurrency, reading each file per item as the CLI does; returns the failures.</summary>
        public async Task<int> RegisterAllAsync(Uri server, string key, IReadOnlyList<(string Id, string Image)> work, int concurrency)
        {
            var options = Activator.CreateInstance(optionsType)!;
            optionsType.GetProperty("BaseAddress")!.SetValue(options, server);
            optionsType.GetProperty("ApiKey")!.SetValue(options, key);
            using var client = (IDisposable)Activator.CreateInstance(clientType, options)!;
            var failures = 0;
            await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (w, ct) =>
            {
                try
                {
                    var read = (Task)fromFile.Invoke(null, [w.Image, ct])!;
                    await read;
                    var images = Array.CreateInstance(imageType, 1);
                    images.SetValue(read.GetType().GetProperty("Result")!.GetValue(read), 0);
                    await (Task)register.Invoke(client, [w.Id, images, null, null, ct])!;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    if (Interlocked.Increment(ref failures) <= 5) Console.Error.WriteLine($"  direct: {w.Id}: {e.GetType().Name}: {e.Message}");
                }
            });
            return failures;
        }
    }

    private static double Option(string[] args, string name, double fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string? StringOption(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();
}
