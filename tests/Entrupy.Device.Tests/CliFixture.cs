using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Entrupy.Device.Cli;
using Entrupy.Silo.Tests;

namespace Entrupy.Device.Tests;

/// <summary>One real silo (SQLite file, 127.0.0.1) and a tenant key, shared by the CLI tests.</summary>
public sealed class CliFixture : IAsyncLifetime
{
    public const string AdminKey = "cli-test-admin-key-0123456789";

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "entrupy-cli-test-" + Guid.NewGuid().ToString("N")[..8]);
    public SiloProcess Silo { get; private set; } = null!;
    public string ApiKey { get; private set; } = "";
    public string Server => Silo.BaseAddress.ToString().TrimEnd('/');
    public HttpClient Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataDir);
        Silo = await SiloProcess.StartAsync(TimeSpan.FromSeconds(90),
            $"--Storage:Sqlite:Path={Path.Combine(DataDir, "silo.db")}", $"--Admin:BootstrapKey={AdminKey}",
            "--RateLimits:TokenLimit=10000", "--RateLimits:TokensPerPeriod=10000",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information");
        ApiKey = await NewTenantKeyAsync();
        Api = new HttpClient { BaseAddress = Silo.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        Api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
    }

    /// <summary>A key of a fresh tenant (an empty index, for tests whose trace must not see other tests' items).</summary>
    public async Task<string> NewTenantKeyAsync()
    {
        using var admin = new HttpClient { BaseAddress = Silo.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        var tenant = await PostAsync(admin, "/admin/tenants", new { name = "cli-tests" });
        var key = await PostAsync(admin, $"/admin/tenants/{tenant.GetProperty("id").GetString()}/keys", new { name = "cli" });
        return key.GetProperty("key").GetString()!;
    }

    /// <summary>Runs the CLI in-process as the tenant of <paramref name="apiKey"/>.</summary>
    public Task<CliRun> RunAsAsync(string apiKey, params string[] args) => RunWithAsync(new Dictionary<string, string?>
    {
        ["ENTRUPY_SERVER"] = Server,
        ["ENTRUPY_API_KEY"] = apiKey,
    }, args);

    public async Task DisposeAsync()
    {
        Api?.Dispose();
        if (Silo is not null) await Silo.DisposeAsync();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Runs the CLI in-process with the tenant's server and key in its environment.</summary>
    public Task<CliRun> RunAsync(params string[] args) => RunWithAsync(new Dictionary<string, string?>
    {
        ["ENTRUPY_SERVER"] = Server,
        ["ENTRUPY_API_KEY"] = ApiKey,
    }, args);

    /// <summary>Runs the CLI in-process with exactly <paramref name="environment"/> as its environment.</summary>
    public async Task<CliRun> RunWithAsync(IReadOnlyDictionary<string, string?> environment, string[] args, string? home = null, string? stdin = null, bool terminalInput = false)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var host = new CliHost
        {
            Out = stdout,
            Error = stderr,
            In = new StringReader(stdin ?? ""),
            InputIsTerminal = terminalInput,
            GetEnvironmentVariable = name => environment.GetValueOrDefault(name),
            HomeDirectory = home ?? Path.Combine(DataDir, "home"),
            WorkingDirectory = DataDir,
        };
        var code = await EntrupyCli.RunAsync(args, host);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>GET /items/{id} through the API (the independent check of what the CLI did).</summary>
    public async Task<JsonElement> GetItemAsync(string id)
    {
        var response = await Api.GetAsync("/items/" + Uri.EscapeDataString(id));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET /items/{id}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Starts the CLI as its own process (for the kill test).</summary>
    public Process StartProcess(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = DataDir };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "entrupy.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["ENTRUPY_SERVER"] = Server;
        psi.Environment["ENTRUPY_API_KEY"] = ApiKey;
        return Process.Start(psi)!;
    }

    private static async Task<JsonElement> PostAsync(HttpClient client, string path, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

[CollectionDefinition(Name)]
public sealed class CliCollection : ICollectionFixture<CliFixture>
{
    public const string Name = "cli";
}

/// <summary>What one CLI run printed and returned.</summary>
public sealed record CliRun(int ExitCode, string Out, string Err)
{
    /// <summary>stdout parsed as the single JSON object --json promises (fails if there is anything else).</summary>
    public JsonElement Json
    {
        get
        {
            var text = Out.Trim();
            Assert.False(string.IsNullOrEmpty(text), "no JSON on stdout; stderr: " + Err);
            Assert.DoesNotContain('\n', text);
            return JsonDocument.Parse(text).RootElement.Clone();
        }
    }

    public override string ToString() => $"exit {ExitCode}\nstdout: {Out}\nstderr: {Err}";
}

/// <summary>Real captures from the committed dev set.</summary>
public static class DevSet
{
    public static string Root { get; } = FindRoot();

    public static string Images => Path.Combine(Root, "models", "fingerprint", "devset", "images");

    /// <summary>The gallery capture of devset item <paramref name="n"/>.</summary>
    public static string Gallery(int n) =>
        Directory.GetFiles(Images, $"g_item{n:00000}_0.*").Single();

    /// <summary>A probe capture of devset item <paramref name="n"/> (probes.csv maps probes to items).</summary>
    public static string Probe(int n)
    {
        var line = File.ReadLines(Path.Combine(Root, "models", "fingerprint", "devset", "probes.csv"))
            .Skip(1).Select(l => l.Split(',')).First(f => f[2] == $"item{n:00000}");
        return Path.Combine(Root, "models", "fingerprint", "devset", line[1]);
    }

    /// <summary>Number of gallery items in the dev set.</summary>
    public static int GalleryCount => Directory.GetFiles(Images, "g_item*_0.*").Length;

    /// <summary>Writes a uniform gray 24-bit BMP: decodable, but with no texture (fails the quality gate).</summary>
    public static string WriteFlatBmp(string path, int size = 256, byte gray = 128)
    {
        var row = (size * 3 + 3) & ~3;
        var data = new byte[54 + row * size];
        data[0] = (byte)'B'; data[1] = (byte)'M';
        BitConverter.GetBytes(data.Length).CopyTo(data, 2);
        BitConverter.GetBytes(54).CopyTo(data, 10);
        BitConverter.GetBytes(40).CopyTo(data, 14);
        BitConverter.GetBytes(size).CopyTo(data, 18);
        BitConverter.GetBytes(size).CopyTo(data, 22);
        BitConverter.GetBytes((short)1).CopyTo(data, 26);
        BitConverter.GetBytes((short)24).CopyTo(data, 28);
        BitConverter.GetBytes(row * size).CopyTo(data, 34);
        for (var y = 0; y < size; y++) for (var x = 0; x < size * 3; x++) data[54 + y * row + x] = gray;
        File.WriteAllBytes(path, data);
        return path;
    }

    private static string FindRoot() => Entrupy.TestSupport.RepositoryRoot.Path;
}
