using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Entrupy.Silo.Api;

/// <summary>
/// Where one request's time went, sent back as a W3C <c>Server-Timing</c> header
/// (<c>extract;dur=5.1, match;dur=1.9, total;dur=9.4</c>, milliseconds), so a client, a browser's developer tools or
/// <c>bench/run registry</c> can tell the silo's stages from the network and from queueing in front of it. A request
/// that a garbage collection paused also gets <c>gc;dur=</c>: the process's pause time while it was in flight.
/// </summary>
internal sealed class ServerTiming : Entrupy.Registry.IStageTimer
{
    /// <summary>The response header.</summary>
    public const string HeaderName = "Server-Timing";

    private readonly long startedAt = Stopwatch.GetTimestamp();
    private readonly TimeSpan pausedBefore = GC.GetTotalPauseDuration();
    private readonly List<(string Name, double Milliseconds)> stages = new(8);

    /// <summary>This request's timing, or a detached one (not sent) when the middleware is not in the pipeline.</summary>
    public static ServerTiming Of(HttpContext context) => context.Features.Get<ServerTiming>() ?? new ServerTiming();

    /// <summary>Times a stage from now until the returned value is disposed.</summary>
    public Stage Measure(string name) => new(this, name, Stopwatch.GetTimestamp());

    /// <summary>Runs one stage and records how long it took, whether it succeeded or threw.</summary>
    public async Task<T> Time<T>(string name, Func<Task<T>> stage)
    {
        using (Measure(name)) return await stage();
    }

    /// <inheritdoc cref="Time{T}(string, Func{Task{T}})"/>
    public async Task Time(string name, Func<Task> stage)
    {
        using (Measure(name)) await stage();
    }

    /// <summary>
    /// The header value: every stage in the order it ended, <c>gc</c> if a collection paused the process meanwhile,
    /// then <c>total</c> since the request reached the middleware.
    /// </summary>
    public string Format()
    {
        var text = new StringBuilder();
        lock (stages)
        {
            foreach (var (name, ms) in stages) Append(text, name, ms);
        }
        var paused = (GC.GetTotalPauseDuration() - pausedBefore).TotalMilliseconds;
        if (paused > 0) Append(text, "gc", paused);
        Append(text, "total", Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds);
        return text.ToString();
    }

    private void Add(string name, double milliseconds)
    {
        lock (stages) stages.Add((name, milliseconds));
    }

    private static void Append(StringBuilder text, string name, double milliseconds)
    {
        if (text.Length > 0) text.Append(", ");
        text.Append(name).Append(";dur=").Append(milliseconds.ToString("0.###", CultureInfo.InvariantCulture));
    }

    /// <summary>A running stage; disposing it records its duration.</summary>
    public readonly struct Stage(ServerTiming timing, string name, long startedAt) : IDisposable
    {
        /// <inheritdoc />
        public void Dispose() => timing.Add(name, Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds);
    }
}

/// <summary>Attaches a <see cref="ServerTiming"/> to every request and writes it into the response headers as they go out.</summary>
internal sealed class ServerTimingMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var timing = new ServerTiming();
        context.Features.Set(timing);
        context.Response.OnStarting(() =>
        {
            context.Response.Headers[ServerTiming.HeaderName] = timing.Format();
            return Task.CompletedTask;
        });
        return next(context);
    }
}
