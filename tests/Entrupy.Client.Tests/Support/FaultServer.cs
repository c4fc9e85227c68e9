using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Entrupy.Client.Tests.Support;

/// <summary>A request as the server received it.</summary>
public sealed record RecordedRequest(string Method, string PathAndQuery, Dictionary<string, string> Headers, byte[] Body, long ArrivedTicks)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A real Kestrel server on 127.0.0.1 that answers each request with the next scripted step (status, headers, body,
/// delay) and records what it received. Unscripted requests get 599 so a test never passes by accident.
/// </summary>
public sealed class FaultServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ConcurrentQueue<Func<HttpContext, Task>> script = new();
    private readonly ConcurrentQueue<RecordedRequest> requests = new();

    private FaultServer(WebApplication app) => this.app = app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Status of unscripted requests: 599 by default, so a test never passes by accident; 200 for a webhook receiver.</summary>
    public int UnscriptedStatus { get; set; } = 599;

    public IReadOnlyList<RecordedRequest> Requests => requests.ToArray();

    public static async Task<FaultServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FaultServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address.TrimEnd('/') + "/");
        return server;
    }

    /// <summary>Scripts the next answer.</summary>
    public FaultServer Then(int status, string? body = null, string contentType = "application/json", TimeSpan? delay = null, params (string Name, string Value)[] headers)
    {
        script.Enqueue(async context =>
        {
            if (delay is { } d) await Task.Delay(d, context.RequestAborted);
            context.Response.StatusCode = status;
            foreach (var (name, value) in headers) context.Response.Headers[name] = value;
            if (body is not null)
            {
                context.Response.ContentType = contentType;
                await context.Response.WriteAsync(body, context.RequestAborted);
            }
        });
        return this;
    }

    /// <summary>Scripts a problem+json answer.</summary>
    public FaultServer ThenProblem(int status, string kind, string? detail = null, params (string Name, string Value)[] headers)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["type"] = "https://errors.entrupy.dev/" + kind,
            ["title"] = "Title of " + kind,
            ["status"] = status,
            ["detail"] = detail,
            ["instance"] = "/instance/" + kind,
            ["trace_id"] = "00-trace-" + kind,
        });
        return Then(status, body, "application/problem+json", null, headers);
    }

    /// <summary>Scripts a JSON answer.</summary>
    public FaultServer ThenJson(int status, object value)
        => Then(status, System.Text.Json.JsonSerializer.Serialize(value, Entrupy.Registry.Api.ApiJson.Options));

    /// <summary>Scripts an answer that never comes (until the client gives up or the server stops).</summary>
    public FaultServer ThenHang() => Then(200, "{}", delay: TimeSpan.FromMinutes(5));

    private async Task HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        requests.Enqueue(new RecordedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString, headers, buffer.ToArray(),
            TimeProvider.System.GetTimestamp()));
        if (script.TryDequeue(out var step))
        {
            try { await step(context); }
            catch (OperationCanceledException) { }
        }
        else
        {
            context.Response.StatusCode = UnscriptedStatus;
            await context.Response.WriteAsync("unscripted request");
        }
    }

    /// <summary>A 127.0.0.1 port nothing listens on (bound, then released).</summary>
    public static Uri UnusedAddress()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        var port = ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
        return new Uri($"http://127.0.0.1:{port}/");
    }

    public async ValueTask DisposeAsync()
    {
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2))) await app.StopAsync(stop.Token);
        await app.DisposeAsync();
    }
}

/// <summary>Reads a recorded multipart body with ASP.NET Core's own parser.</summary>
public static class Multipart
{
    public sealed record Part(string Name, string? FileName, string? ContentType, byte[] Content);

    public static async Task<List<Part>> ParseAsync(RecordedRequest request)
    {
        var contentType = MediaTypeHeaderValue.Parse(request.Header("Content-Type"));
        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value!;
        var reader = new Microsoft.AspNetCore.WebUtilities.MultipartReader(boundary, new MemoryStream(request.Body));
        var parts = new List<Part>();
        while (await reader.ReadNextSectionAsync() is { } section)
        {
            var disposition = ContentDispositionHeaderValue.Parse(section.ContentDisposition);
            using var content = new MemoryStream();
            await section.Body.CopyToAsync(content);
            parts.Add(new Part(HeaderUtilities.RemoveQuotes(disposition.Name).Value!, HeaderUtilities.RemoveQuotes(disposition.FileName).Value,
                section.ContentType, content.ToArray()));
        }
        return parts;
    }
}
