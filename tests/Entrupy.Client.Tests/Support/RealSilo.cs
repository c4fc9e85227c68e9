using Entrupy.Silo.Tests;

namespace Entrupy.Client.Tests.Support;

/// <summary>
/// The real silo executable on 127.0.0.1 with a SQLite file, plus a tenant and key made through
/// <see cref="EntrupyAdminClient"/>: exactly the set-up a customer script would do.
/// </summary>
public sealed class RealSilo : IAsyncLifetime
{
    public const string AdminKey = "client-tests-admin-key-0123456789";

    private readonly string dataDir = Path.Combine(Path.GetTempPath(), "entrupy-client-test-" + Guid.NewGuid().ToString("N")[..8]);
    private SiloProcess? silo;

    public Uri BaseAddress => silo!.BaseAddress;

    public TenantInfo Tenant { get; private set; } = null!;

    public ApiKeyInfo Key { get; private set; } = null!;

    public EntrupyClientOptions Options(string? apiKey = null) => new()
    {
        BaseAddress = BaseAddress,
        ApiKey = apiKey ?? Key.Key!,
        InitialBackoff = TimeSpan.FromMilliseconds(50),
        Timeout = TimeSpan.FromSeconds(60),
    };

    public EntrupyClient Client() => new(Options());

    public EntrupyAdminClient Admin() => new(Options(AdminKey));

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(dataDir);
        silo = await SiloProcess.StartAsync(TimeSpan.FromSeconds(90),
            $"--Storage:Sqlite:Path={Path.Combine(dataDir, "silo.db")}",
            $"--Admin:BootstrapKey={AdminKey}",
            "--AuthenticationJobs:PollInterval=00:00:00.200",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information");
        using var admin = Admin();
        (Tenant, Key) = await admin.CreateTenantWithKeyAsync("client-tests", "tests");
    }

    public async Task DisposeAsync()
    {
        if (silo is not null) await silo.DisposeAsync();
        try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Real captures copied next to the tests (see the csproj).</summary>
public static class Captures
{
    private static string Find(string folder, string stem)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, folder);
        return Directory.EnumerateFiles(dir, stem + ".*").Single();
    }

    /// <summary>The gallery (enrolment) capture of devset item <paramref name="item"/> (0-3).</summary>
    public static CaptureImage Gallery(int item) => CaptureImage.FromFile(Find("devset", $"g_item{item:00000}_0"));

    /// <summary>A probe capture of devset item <paramref name="item"/> (0-3); <paramref name="which"/> 0 or 1.</summary>
    public static CaptureImage Probe(int item, int which = 0) => CaptureImage.FromFile(Find("devset", $"p{item * 2 + which:000000}"));

    /// <summary>An authentication sample, e.g. "acme-leather-genuine-5000".</summary>
    public static CaptureImage AuthenticationSample(string stem) => CaptureImage.FromFile(Find("auth-samples", stem));
}
