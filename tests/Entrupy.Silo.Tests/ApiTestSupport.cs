using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Entrupy.Silo.Tests;

/// <summary>A real silo with a real SQLite file and short webhook delays, shared by the API tests of one class.</summary>
public sealed class ApiSilo : IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789";
    public const long MaxBodyBytes = 64 * 1024;

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "entrupy-api-test-" + Guid.NewGuid().ToString("N")[..8]);
    public SiloProcess Silo { get; private set; } = null!;
    public HttpClient Admin { get; private set; } = null!;

    public static string[] Arguments(string dbPath, bool withAdmin = true) =>
    [
        $"--Storage:Sqlite:Path={dbPath}",
        .. withAdmin ? new[] { $"--Admin:BootstrapKey={AdminKey}" } : [],
        $"--Limits:MaxRequestBodyBytes={MaxBodyBytes}",
        "--RateLimits:TokenLimit=40", "--RateLimits:TokensPerPeriod=40", "--RateLimits:ReplenishmentPeriod=00:00:02",
        "--Webhooks:PollInterval=00:00:00.100", "--Webhooks:BaseDelay=00:00:00.300", "--Webhooks:MaxDelay=00:00:01",
        "--Webhooks:MaxAttempts=30", "--Webhooks:RequestTimeout=00:00:02",
        "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
    ];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataDir);
        Silo = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), Arguments(Path.Combine(DataDir, "silo.db")));
        Admin = Api.Client(Silo.BaseAddress, AdminKey);
    }

    public async Task DisposeAsync()
    {
        Admin.Dispose();
        await Silo.DisposeAsync();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>HTTP helpers for the API tests.</summary>
public static class Api
{
    public static HttpClient Client(Uri baseAddress, string? key = null)
    {
        var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>The stages of a response's <c>Server-Timing</c> header, in milliseconds (empty when it has none).</summary>
    public static Dictionary<string, double> ServerTiming(HttpResponseMessage response)
    {
        var stages = new Dictionary<string, double>(StringComparer.Ordinal);
        if (!response.Headers.TryGetValues("Server-Timing", out var values)) return stages;
        foreach (var entry in values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries)))
        {
            var parts = entry.Split(';', StringSplitOptions.TrimEntries);
            var duration = parts.Single(p => p.StartsWith("dur=", StringComparison.Ordinal));
            stages[parts[0]] = double.Parse(duration[4..], System.Globalization.CultureInfo.InvariantCulture);
        }
        return stages;
    }

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, object body, string? idempotencyKey = "auto")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey == "auto" ? Guid.NewGuid().ToString() : idempotencyKey);
        return client.SendAsync(request);
    }

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts an RFC 9457 problem of the given kind and returns it.</summary>
    public static async Task<JsonElement> ProblemAsync(this HttpResponseMessage response, int status, string slug)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal("https://errors.entrupy.dev/" + slug, problem.GetProperty("type").GetString());
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.DoesNotContain("   at ", text);
        Assert.True(problem.TryGetProperty("trace_id", out _), "no trace_id: " + text);
        return problem;
    }

    /// <summary>Creates a tenant and a key through the admin API; returns a client authenticated as that tenant.</summary>
    public static async Task<Tenant> CreateTenantAsync(this HttpClient admin, string name)
    {
        var tenant = await (await admin.PostJsonAsync("/admin/tenants", new { name })).JsonAsync(HttpStatusCode.Created);
        var id = tenant.GetProperty("id").GetString()!;
        var key = await (await admin.PostJsonAsync($"/admin/tenants/{id}/keys", new { name = "test" })).JsonAsync(HttpStatusCode.Created);
        return new Tenant(id, key.GetProperty("id").GetString()!, key.GetProperty("key").GetString()!, Client(admin.BaseAddress!, key.GetProperty("key").GetString()));
    }

    public static async Task<JsonElement[]> DeliveriesAsync(this HttpClient client, string webhookId) =>
        (await (await client.GetAsync($"/webhooks/{webhookId}/deliveries")).JsonAsync(HttpStatusCode.OK)).EnumerateArray().ToArray();

    /// <summary>Polls until <paramref name="condition"/> holds for the delivery log, or fails after <paramref name="timeout"/>.</summary>
    public static async Task<JsonElement[]> WaitForDeliveriesAsync(this HttpClient client, string webhookId, Func<JsonElement[], bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var log = await client.DeliveriesAsync(webhookId);
            if (condition(log)) return log;
            if (DateTime.UtcNow > deadline) Assert.Fail("delivery log never met the condition: " + JsonSerializer.Serialize(log));
            await Task.Delay(150);
        }
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>A tenant created for a test, with a client using its key.</summary>
public sealed record Tenant(string Id, string KeyId, string Key, HttpClient Client);

/// <summary>
/// A webhook receiver on 127.0.0.1: records every POST (headers and exact body bytes) and answers 200, or, while
/// <see cref="Down"/>, 503 with Retry-After (recorded in <see cref="Refused"/>).
/// </summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener listener = new();
    private readonly Task loop;

    public WebhookReceiver(int port)
    {
        Url = $"http://127.0.0.1:{port}/";
        listener.Prefixes.Add(Url);
        listener.Start();
        loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    /// <summary>While true, every POST is answered 503 (an outage).</summary>
    public volatile bool Down;

    /// <summary>Deliveries answered 200.</summary>
    public BlockingCollection<ReceivedWebhook> Received { get; } = [];

    /// <summary>Deliveries answered 503.</summary>
    public ConcurrentBag<ReceivedWebhook> Refused { get; } = [];

    public ReceivedWebhook WaitForOne(TimeSpan timeout) =>
        Received.TryTake(out var item, timeout) ? item : throw new TimeoutException("no webhook arrived within " + timeout);

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => context.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
            var received = new ReceivedWebhook(context.Request.Url!.AbsolutePath, headers, body.ToArray());
            if (Down)
            {
                Refused.Add(received);
                context.Response.StatusCode = 503;
                context.Response.Headers["Retry-After"] = "1";
            }
            else
            {
                Received.Add(received);
                context.Response.StatusCode = 200;
            }
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        listener.Stop();
        listener.Close();
        try { loop.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
    }
}

public sealed record ReceivedWebhook(string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);
}
