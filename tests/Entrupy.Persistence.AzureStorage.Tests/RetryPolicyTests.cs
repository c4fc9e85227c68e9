using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Entrupy.Grains.Persistence.AzureStorage.Rest;

namespace Entrupy.Grains.Persistence.AzureStorage.Tests;

/// <summary>
/// Which failures the provider retries, and how long it may take, against a real HTTP server on 127.0.0.1 that answers
/// what each test scripts (Azurite cannot be made to answer 500 or 429 on demand). Transient: connection errors, 408,
/// 429, 500, 502, 503, 504. Never retried: 409/412 (a precondition answer), 400, 501.
/// </summary>
public sealed class RetryPolicyTests
{
    private static readonly GrainStateKey Key = new("item", "retry", "state");

    private static AzureBlobStorageOptions Options(int port, Action<AzureBlobStorageOptions>? configure = null)
    {
        var options = new AzureBlobStorageOptions
        {
            ConnectionString = $"AccountName=devstoreaccount1;AccountKey={StorageConnectionString.DevelopmentAccountKey};" +
                               $"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1",
            ContainerName = "retries",
            RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        };
        configure?.Invoke(options);
        return options;
    }

    [Theory]
    [InlineData(408)]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    [InlineData(504)]
    public async Task A_transient_status_is_retried_and_the_write_then_succeeds(int status)
    {
        await using var server = ScriptedBlobServer.Start((request, n) => request.IsBlobPut && n <= 2 ? new Answer(status) : null);
        using var storage = new AzureBlobGrainStorage(Options(server.Port));

        var etag = await storage.WriteAsync(Key, "v1"u8.ToArray(), null);

        Assert.Equal(ScriptedBlobServer.StoredETag, etag);
        Assert.Equal(3, server.Count(r => r.IsBlobPut));
    }

    [Theory]
    [InlineData(412, "ConditionNotMet")]
    [InlineData(409, "BlobAlreadyExists")]
    public async Task A_precondition_failure_is_the_typed_conflict_after_one_try(int status, string code)
    {
        await using var server = ScriptedBlobServer.Start((request, _) => request.IsBlobPut ? new Answer(status, code) : null);
        using var storage = new AzureBlobGrainStorage(Options(server.Port));

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(
            () => storage.WriteAsync(Key, "v2"u8.ToArray(), status == 412 ? "\"0x1\"" : null));

        Assert.Equal(1, server.Count(r => r.IsBlobPut));
        Assert.Contains("retry", conflict.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(400, "InvalidHeaderValue")]
    [InlineData(501, "NotImplemented")]
    public async Task A_status_a_retry_cannot_change_fails_at_once_with_azures_code(int status, string code)
    {
        await using var server = ScriptedBlobServer.Start((request, _) => request.IsBlobPut ? new Answer(status, code) : null);
        using var storage = new AzureBlobGrainStorage(Options(server.Port));

        var error = await Assert.ThrowsAsync<GrainStorageException>(() => storage.WriteAsync(Key, "v"u8.ToArray(), null));

        Assert.Equal(1, server.Count(r => r.IsBlobPut));
        Assert.Contains($"HTTP {status} {code}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_persistent_server_error_becomes_storage_unavailable_after_max_attempts()
    {
        await using var server = ScriptedBlobServer.Start((request, _) => request.IsBlobPut ? new Answer(500, "InternalError") : null);
        using var storage = new AzureBlobGrainStorage(Options(server.Port, o => o.MaxAttempts = 4));

        var error = await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.WriteAsync(Key, "v"u8.ToArray(), null));

        Assert.Equal(4, server.Count(r => r.IsBlobPut));
        Assert.Contains("failed 4 times", error.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 500 InternalError", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_never_answers_is_given_up_on_within_the_retry_budget()
    {
        await using var server = ScriptedBlobServer.Start((request, _) => request.IsBlobPut ? Answer.Hang : null);
        using var storage = new AzureBlobGrainStorage(Options(server.Port, o =>
        {
            o.AttemptTimeout = TimeSpan.FromMilliseconds(300);
            o.RetryBudget = TimeSpan.FromSeconds(2);
            o.MaxAttempts = 50;
        }));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.WriteAsync(Key, "v"u8.ToArray(), null));
        clock.Stop();

        // The budget bounds the call however many tries are allowed. Unbounded would be 50 x 300 ms plus back-off
        // (> 15 s), so a wide margin for a loaded 2-core machine still tells the two apart.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6), $"took {clock.Elapsed}");
        Assert.True(server.Count(r => r.IsBlobPut) < 50, string.Join(", ", server.Requests));
        Assert.Contains("retry budget 2 s", error.Message, StringComparison.Ordinal);
        Assert.Contains("no answer within", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_retry_after_longer_than_the_budget_fails_at_once_instead_of_waiting()
    {
        await using var server = ScriptedBlobServer.Start((request, _) =>
            request.IsBlobPut ? new Answer(503, "ServerBusy", RetryAfterSeconds: 30) : null);
        using var storage = new AzureBlobGrainStorage(Options(server.Port, o => o.RetryBudget = TimeSpan.FromSeconds(2)));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.WriteAsync(Key, "v"u8.ToArray(), null));

        // Waiting it out would take 30 s; the margin is for a loaded machine.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal(1, server.Count(r => r.IsBlobPut));
        Assert.Contains("ServerBusy", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_short_retry_after_is_honoured()
    {
        await using var server = ScriptedBlobServer.Start((request, n) =>
            request.IsBlobPut && n == 1 ? new Answer(429, "TooManyRequests", RetryAfterSeconds: 1) : null);
        using var storage = new AzureBlobGrainStorage(Options(server.Port));

        var clock = Stopwatch.StartNew();
        await storage.WriteAsync(Key, "v"u8.ToArray(), null);

        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(950), $"retried after {clock.Elapsed}, before Retry-After");
        Assert.Equal(2, server.Count(r => r.IsBlobPut));
    }

    [Fact]
    public async Task Connection_refused_fails_fast_as_unavailable()
    {
        var port = ScriptedBlobServer.FreePort(); // nothing listens there
        using var storage = new AzureBlobGrainStorage(Options(port));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.ReadAsync(Key));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("failed 3 times", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_documented_statuses_are_transient()
    {
        int[] transient = [408, 429, 500, 502, 503, 504];
        for (var status = 100; status < 600; status++)
            Assert.Equal(transient.Contains(status), BlobRestClient.IsTransient((HttpStatusCode)status));
    }

    [Fact]
    public void A_non_positive_budget_is_refused_at_construction()
    {
        var options = Options(1, o => o.RetryBudget = TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AzureBlobGrainStorage(options));
    }
}

/// <summary>What the scripted server answers; <see cref="Hang"/> reads the request and never answers.</summary>
internal sealed record Answer(int Status, string? ErrorCode = null, int? RetryAfterSeconds = null)
{
    public static Answer Hang { get; } = new(-1);
}

/// <summary>A request the scripted server received.</summary>
internal sealed record ReceivedRequest(string Method, string Target)
{
    public bool IsBlobPut => Method == "PUT" && !Target.Contains("restype=container", StringComparison.Ordinal);
}

/// <summary>
/// A tiny HTTP/1.1 server on 127.0.0.1 (one request per connection). The script sees each request and how many of its
/// kind (method + path) came before, and returns an answer or null for the default: 201 for PUTs with a fixed ETag,
/// 404 for reads.
/// </summary>
internal sealed class ScriptedBlobServer : IAsyncDisposable
{
    public const string StoredETag = "\"0x8DCSCRIPTED\"";

    private readonly TcpListener _listener;
    private readonly Func<ReceivedRequest, int, Answer?> _script;
    private readonly ConcurrentQueue<ReceivedRequest> _received = new();
    private readonly ConcurrentDictionary<string, int> _counts = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private ScriptedBlobServer(Func<ReceivedRequest, int, Answer?> script)
    {
        _script = script;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static ScriptedBlobServer Start(Func<ReceivedRequest, int, Answer?> script) => new(script);

    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public int Count(Func<ReceivedRequest, bool> predicate) => _received.Count(predicate);

    public IEnumerable<ReceivedRequest> Requests => _received;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            var head = await ReadHeadAsync(stream);
            if (head is null) return;
            var lines = head.Split("\r\n");
            var parts = lines[0].Split(' ');
            var contentLength = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                .Select(p => int.Parse(p[1].Trim())).FirstOrDefault();
            var body = new byte[contentLength];
            await stream.ReadExactlyAsync(body, _stop.Token);

            var request = new ReceivedRequest(parts[0], parts[1]);
            _received.Enqueue(request);
            var n = _counts.AddOrUpdate(request.Method + " " + request.Target.Split('?')[0], 1, (_, c) => c + 1);
            var answer = _script(request, n) ?? (request.Method == "PUT" ? new Answer(201) : new Answer(404, "BlobNotFound"));
            if (answer == Answer.Hang)
            {
                await Task.Delay(Timeout.Infinite, _stop.Token);
                return;
            }

            var response = new StringBuilder();
            response.Append($"HTTP/1.1 {answer.Status} Scripted\r\n");
            if (answer.Status < 300) response.Append($"ETag: {StoredETag}\r\n");
            if (answer.ErrorCode is not null) response.Append($"x-ms-error-code: {answer.ErrorCode}\r\n");
            if (answer.RetryAfterSeconds is { } seconds) response.Append($"Retry-After: {seconds}\r\n");
            var errorBody = answer.ErrorCode is null || request.Method == "HEAD"
                ? ""
                : $"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{answer.ErrorCode}</Code><Message>scripted {answer.Status}</Message></Error>";
            response.Append($"Content-Length: {Encoding.UTF8.GetByteCount(errorBody)}\r\nConnection: close\r\n\r\n{errorBody}");
            await stream.WriteAsync(Encoding.UTF8.GetBytes(response.ToString()), _stop.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The client gave up (attempt timeout) or the server is stopping.
        }
    }

    private async Task<string?> ReadHeadAsync(NetworkStream stream)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one, _stop.Token) == 0) return null;
            buffer.Add(one[0]);
            if (buffer.Count >= 4 && buffer[^4] == '\r' && buffer[^3] == '\n' && buffer[^2] == '\r' && buffer[^1] == '\n')
                return Encoding.ASCII.GetString(buffer.ToArray(), 0, buffer.Count - 4);
        }
    }
}
