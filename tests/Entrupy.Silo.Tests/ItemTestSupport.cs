using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Entrupy.Registry.Api;
using Microsoft.Data.Sqlite;

namespace Entrupy.Silo.Tests;

/// <summary>
/// One real silo process on a SQLite file for the item end-to-end tests, with caps that fit real captures, plus a
/// factory batch (10 items registered concurrently) built once and shared by the tests that need registered items.
/// Tests of one class run one at a time, so a test may restart the silo (<see cref="RestartAsync"/>).
/// </summary>
public sealed class ItemSilo : IAsyncLifetime
{
    public const string AdminKey = "item-test-admin-key-0123456789";
    public const int FactoryItems = 10;

    private readonly SemaphoreSlim batchLock = new(1, 1);
    private FactoryBatch? batch;

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "entrupy-item-test-" + Guid.NewGuid().ToString("N")[..8]);
    public string DbPath => Path.Combine(DataDir, "silo.db");
    public SiloProcess Silo { get; private set; } = null!;
    public HttpClient Admin { get; private set; } = null!;

    public static string[] Arguments(string dbPath) =>
    [
        $"--Storage:Sqlite:Path={dbPath}",
        $"--Admin:BootstrapKey={AdminKey}",
        "--Limits:MaxRequestBodyBytes=4194304",
        "--RateLimits:TokenLimit=5000", "--RateLimits:TokensPerPeriod=5000",
        "--Webhooks:PollInterval=00:00:00.100", "--Webhooks:BaseDelay=00:00:00.300", "--Webhooks:MaxDelay=00:00:01",
        "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
    ];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataDir);
        Silo = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), Arguments(DbPath));
        Admin = Api.Client(Silo.BaseAddress, AdminKey);
    }

    public async Task DisposeAsync()
    {
        batch?.Receiver.Dispose();
        Admin.Dispose();
        await Silo.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { }
    }

    /// <summary>A client for <paramref name="key"/> against the silo as it runs now (the port changes on restart).</summary>
    public HttpClient Client(string key) => Api.Client(Silo.BaseAddress, key);

    /// <summary>Kills the silo (no graceful shutdown), runs <paramref name="whileStopped"/>, starts it again on the same file.</summary>
    public async Task RestartAsync(Func<Task>? whileStopped = null)
    {
        Admin.Dispose();
        await Silo.DisposeAsync();
        if (whileStopped is not null) await whileStopped();
        Silo = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), Arguments(DbPath));
        Admin = Api.Client(Silo.BaseAddress, AdminKey);
    }

    /// <summary>The factory tenant with dev-set items 0-9 registered concurrently as sku-000…sku-009 (built on first use).</summary>
    public async Task<FactoryBatch> FactoryBatchAsync()
    {
        await batchLock.WaitAsync();
        try
        {
            return batch ??= await RegisterFactoryBatchAsync();
        }
        finally
        {
            batchLock.Release();
        }
    }

    private async Task<FactoryBatch> RegisterFactoryBatchAsync()
    {
        var tenant = await Admin.CreateTenantAsync("factory");
        var port = Api.FreePort();
        var receiver = new WebhookReceiver(port);
        await (await tenant.Client.PostJsonAsync("/webhooks",
            new { url = $"http://127.0.0.1:{port}/hook", events = new[] { "registration.completed" } })).JsonAsync(HttpStatusCode.Created);

        var started = DateTimeOffset.UtcNow;
        var responses = await Task.WhenAll(Enumerable.Range(0, FactoryItems).Select(async i =>
        {
            var metadata = new RegistrationMetadata
            {
                DeviceId = "line-1-camera",
                OperatorId = "op-7",
                Location = "urn:epc:id:sgln:0614141.00777.0",
                CustodyEvent = new Registry.CustodyEventRequest
                {
                    Action = Registry.EpcisAction.Add,
                    BizStep = "commissioning",
                    ReadPointId = "urn:epc:id:sgln:0614141.00777.0",
                    EventTime = DateTimeOffset.Parse("2026-11-20T09:00:00+08:00", System.Globalization.CultureInfo.InvariantCulture).AddMinutes(i),
                },
            };
            var upload = Multipart.Of([DevSet.Gallery(i)], metadata);
            using var response = await upload.PostAsync(tenant.Client, ApiRoutes.Format(ApiRoutes.Registrations, Sku(i)));
            return new RegisteredItem(Sku(i), i, response.StatusCode, response.Headers.Location?.ToString(), await response.Content.ReadAsStringAsync());
        }));
        return new FactoryBatch(tenant, responses, receiver, started);
    }

    public static string Sku(int devSetItem) => $"sku-{devSetItem:000}";
}

/// <summary>What the factory batch produced.</summary>
public sealed record FactoryBatch(Tenant Tenant, RegisteredItem[] Items, WebhookReceiver Receiver, DateTimeOffset Started);

/// <summary>One registration answer of the factory batch.</summary>
public sealed record RegisteredItem(string Id, int DevSetItem, HttpStatusCode Status, string? Location, string Body);

/// <summary>A multipart body built once, so a retry sends the very same bytes (same boundary) as the first attempt.</summary>
public sealed record Multipart(byte[] Body, string ContentType)
{
    public static Multipart Of(IEnumerable<byte[]> images, object? metadata = null, string imagePart = ApiRoutes.ImagePart)
    {
        using var content = new MultipartFormDataContent();
        var index = 0;
        foreach (var image in images)
        {
            var part = new ByteArrayContent(image);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            content.Add(part, imagePart, $"capture-{index++}.bin");
        }
        if (metadata is not null)
            content.Add(new StringContent(JsonSerializer.Serialize(metadata, ApiJson.Options), Encoding.UTF8, "application/json"), ApiRoutes.MetadataPart);
        var body = content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
        return new Multipart(body, content.Headers.ContentType!.ToString());
    }

    public Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string? idempotencyKey = null)
    {
        var content = new ByteArrayContent(Body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(ContentType);
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Add(ApiRoutes.IdempotencyKeyHeader, idempotencyKey ?? Guid.NewGuid().ToString());
        return client.SendAsync(request);
    }
}

/// <summary>The committed fingerprint dev set (models/fingerprint/devset): one gallery capture per item, probes of the same surfaces and of unregistered ones.</summary>
public static class DevSet
{
    private static readonly Lazy<(Dictionary<int, string> Gallery, Dictionary<int, List<string>> Probes, List<string> Impostors)> Index = new(Load);

    public static string Root { get; } = Path.Combine(RepoRoot(), "models", "fingerprint", "devset");

    private static string RepoRoot() => Entrupy.TestSupport.RepositoryRoot.Path;

    /// <summary>The registration capture of dev-set item <paramref name="item"/>.</summary>
    public static byte[] Gallery(int item) => File.ReadAllBytes(Path.Combine(Root, Index.Value.Gallery[item]));

    /// <summary>A later capture of the same surface (<paramref name="which"/>: 0 or 1).</summary>
    public static byte[] Probe(int item, int which = 0) => File.ReadAllBytes(Path.Combine(Root, Index.Value.Probes[item][which]));

    /// <summary>A capture of a surface that is in no gallery.</summary>
    public static byte[] Impostor(int which = 0) => File.ReadAllBytes(Path.Combine(Root, Index.Value.Impostors[which]));

    private static (Dictionary<int, string>, Dictionary<int, List<string>>, List<string>) Load()
    {
        static int ItemNumber(string id) => int.Parse(id["item".Length..], System.Globalization.CultureInfo.InvariantCulture);
        var gallery = File.ReadLines(Path.Combine(Root, "gallery.csv")).Skip(1).Select(l => l.Split(','))
            .ToDictionary(f => ItemNumber(f[0]), f => f[1]);
        var probes = new Dictionary<int, List<string>>();
        var impostors = new List<string>();
        foreach (var f in File.ReadLines(Path.Combine(Root, "probes.csv")).Skip(1).Select(l => l.Split(',')))
        {
            if (f[2].Length == 0) { impostors.Add(f[1]); continue; }
            var item = ItemNumber(f[2]);
            if (!probes.TryGetValue(item, out var list)) probes[item] = list = [];
            list.Add(f[1]);
        }
        return (gallery, probes, impostors);
    }
}

/// <summary>Edits grain state inside the SQLite file while the silo is stopped, as an attacker with file access could.</summary>
public static class SqliteStateEditor
{
    /// <summary>Rewrites the JSON state of one grain with <paramref name="edit"/>; returns the number of rows changed.</summary>
    public static int Edit(string dbPath, string grainType, string grainKey, string stateName, Func<string, string> edit)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dbPath, Pooling = false }.ToString());
        connection.Open();
        using var read = connection.CreateCommand();
        read.CommandText = "SELECT data FROM grain_state WHERE grain_type = $t AND grain_key = $k AND state_name = $s";
        read.Parameters.AddWithValue("$t", grainType);
        read.Parameters.AddWithValue("$k", grainKey);
        read.Parameters.AddWithValue("$s", stateName);
        var data = read.ExecuteScalar() as byte[] ?? throw new InvalidOperationException($"no stored state for {grainType}/{grainKey}/{stateName}");
        var edited = Encoding.UTF8.GetBytes(edit(Encoding.UTF8.GetString(data)));
        using var write = connection.CreateCommand();
        write.CommandText = "UPDATE grain_state SET data = $d WHERE grain_type = $t AND grain_key = $k AND state_name = $s";
        write.Parameters.AddWithValue("$d", edited);
        write.Parameters.AddWithValue("$t", grainType);
        write.Parameters.AddWithValue("$k", grainKey);
        write.Parameters.AddWithValue("$s", stateName);
        return write.ExecuteNonQuery();
    }

    /// <summary>Deletes every stored state of one grain; returns the number of rows deleted.</summary>
    public static int Delete(string dbPath, string grainType, string grainKey)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dbPath, Pooling = false }.ToString());
        connection.Open();
        using var delete = connection.CreateCommand();
        delete.CommandText = "DELETE FROM grain_state WHERE grain_type = $t AND grain_key = $k";
        delete.Parameters.AddWithValue("$t", grainType);
        delete.Parameters.AddWithValue("$k", grainKey);
        return delete.ExecuteNonQuery();
    }
}
