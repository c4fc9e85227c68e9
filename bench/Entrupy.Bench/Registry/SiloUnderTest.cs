using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Entrupy.TestSupport;

namespace Entrupy.Bench.Registry;

/// <summary>
/// One real silo process (the built Entrupy.Silo.dll) on a free 127.0.0.1 port, with a bootstrap admin key and one
/// tenant, driven over HTTP like a customer would. Killed on dispose.
/// </summary>
internal sealed class SiloUnderTest : IAsyncDisposable
{
    private const string AdminKey = "bench-admin-key-0123456789abcdef";
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log;

    private SiloUnderTest(Process process, ConcurrentQueue<string> log, Uri baseAddress)
    {
        _process = process;
        _log = log;
        BaseAddress = baseAddress;
    }

    /// <summary>Where the silo listens.</summary>
    public Uri BaseAddress { get; }

    /// <summary>A client authenticated as the benchmark tenant (after <see cref="CreateTenantAsync"/>).</summary>
    public HttpClient Tenant { get; private set; } = null!;

    private readonly List<HttpClient> _tenants = [];

    /// <summary>The silo executable: <c>--silo-dll</c>, else <c>ENTRUPY_SILO_DLL</c>, else the Release build in the tree.</summary>
    public static string FindSiloDll(BenchContext context, string? given)
    {
        var path = given ?? Environment.GetEnvironmentVariable("ENTRUPY_SILO_DLL")
            ?? Path.Combine(context.RepoRoot, "silo", "Entrupy.Silo", "bin", "Release", "net10.0", "Entrupy.Silo.dll");
        if (!File.Exists(path))
            throw new FileNotFoundException($"The silo is not built at {path}: run eng/setup.sh (bench/run does) or pass --silo-dll PATH.");
        return path;
    }

    /// <summary>Starts the silo with <paramref name="storageArguments"/> (e.g. <c>--Storage:Provider=azure ...</c>).</summary>
    public static async Task<SiloUnderTest> StartAsync(string siloDll, IEnumerable<string> storageArguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(siloDll)!,
        };
        start.ArgumentList.Add(siloDll);
        string[] common =
        [
            "--urls", "http://127.0.0.1:0",
            $"--Admin:BootstrapKey={AdminKey}",
            // The benchmark measures the registry, not the per-key limiter.
            "--RateLimits:TokenLimit=1000000", "--RateLimits:TokensPerPeriod=1000000", "--RateLimits:ReplenishmentPeriod=00:00:01",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
        ];
        foreach (var a in common.Concat(storageArguments)) start.ArgumentList.Add(a);
        start.Environment["Logging__Console__FormatterName"] = "simple";

        // The latest lines are the ones an error message needs; older ones are dropped.
        var log = new ConcurrentQueue<string>();
        var (process, address) = await SiloLauncher.StartAsync(start, timeout, log, maxLogLines: 200);
        return new SiloUnderTest(process, log, address);
    }

    /// <summary>Creates a tenant and an API key for it through the admin API; <see cref="Tenant"/> calls as it.</summary>
    public async Task CreateTenantAsync(string name) => Tenant = await AddTenantAsync(name);

    /// <summary>Creates another tenant and returns a client calling as it (disposed with the silo).</summary>
    public async Task<HttpClient> AddTenantAsync(string name)
    {
        using var admin = Client(AdminKey);
        var tenant = await PostJsonAsync(admin, "/admin/tenants", new { name });
        var id = tenant.GetProperty("id").GetString()!;
        var key = await PostJsonAsync(admin, $"/admin/tenants/{id}/keys", new { name = "bench" });
        var client = Client(key.GetProperty("key").GetString()!);
        _tenants.Add(client);
        return client;
    }

    /// <summary>
    /// The silo process's counters now (<c>GET /admin/runtime</c>): CPU time and garbage collections since start; null
    /// from a silo built before the endpoint existed (an older build under <c>--silo-dll</c>).
    /// </summary>
    public async Task<SiloRuntimeReading?> ReadRuntimeAsync()
    {
        using var admin = Client(AdminKey);
        using var response = await admin.GetAsync("/admin/runtime");
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        var text = await response.Content.ReadAsStringAsync();
        var json = JsonDocument.Parse(text).RootElement;
        var gc = json.GetProperty("gc");
        return new SiloRuntimeReading(
            json.GetProperty("cpu_milliseconds").GetDouble(),
            gc.GetProperty("pause_milliseconds").GetDouble(),
            [.. gc.GetProperty("collections").EnumerateArray().Select(c => c.GetInt32())],
            json.TryGetProperty("jit", out var jit) ? jit.GetProperty("compilation_milliseconds").GetDouble() : null,
            json.GetProperty("working_set_bytes").GetInt64(),
            gc.GetProperty("committed_bytes").GetInt64());
    }

    /// <summary>The silo's recent log lines, for error messages.</summary>
    public string RecentLog => string.Join('\n', _log.TakeLast(40));

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var client in _tenants) client.Dispose();
        await SiloLauncher.StopAsync(_process);
    }

    private HttpClient Client(string key)
    {
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        var client = new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static async Task<JsonElement> PostJsonAsync(HttpClient client, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.Created) throw new InvalidOperationException($"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

/// <summary>One reading of the silo's process counters; subtract two to get what a phase of the run cost.</summary>
/// <param name="CpuMilliseconds">The silo's CPU time.</param>
/// <param name="GcPauseMilliseconds">Time paused by the garbage collector.</param>
/// <param name="Collections">Collections of generation 0, 1 and 2.</param>
/// <param name="JitMilliseconds">Time spent compiling just in time (null from a silo built before the counter).</param>
/// <param name="WorkingSetBytes">The silo's resident memory.</param>
/// <param name="GcCommittedBytes">Memory the garbage collector has committed.</param>
internal sealed record SiloRuntimeReading(double CpuMilliseconds, double GcPauseMilliseconds, int[] Collections, double? JitMilliseconds,
    long WorkingSetBytes, long GcCommittedBytes)
{
    /// <summary>Adds <c>silo_working_set_mb</c> and <c>silo_gc_committed_mb</c> as they are now.</summary>
    public void AddMemoryTo(Dictionary<string, object?> figures)
    {
        figures["silo_working_set_mb"] = Math.Round(WorkingSetBytes / 1e6);
        figures["silo_gc_committed_mb"] = Math.Round(GcCommittedBytes / 1e6);
    }

    /// <summary>
    /// Adds <c>{prefix}_silo_cpu_ms_per_request</c>, <c>_gc_pause_ms</c>, <c>_gc_collections</c> (gen 0/1/2) and
    /// <c>_jit_ms</c> (CPU spent compiling: a silo still warming up) for the phase since <paramref name="before"/>.
    /// </summary>
    public void AddTo(Dictionary<string, object?> figures, string prefix, SiloRuntimeReading? before, int requests)
    {
        if (before is null) return;
        figures[$"{prefix}_silo_cpu_ms_per_request"] = requests == 0 ? null : Math.Round((CpuMilliseconds - before.CpuMilliseconds) / requests, 2);
        figures[$"{prefix}_gc_pause_ms"] = Math.Round(GcPauseMilliseconds - before.GcPauseMilliseconds, 1);
        figures[$"{prefix}_gc_collections"] = Collections.Zip(before.Collections, (now, then) => now - then).ToArray();
        figures[$"{prefix}_jit_ms"] = JitMilliseconds - before.JitMilliseconds is { } jit ? Math.Round(jit, 1) : null;
    }
}
