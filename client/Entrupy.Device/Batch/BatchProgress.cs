using System.Diagnostics;
using Spectre.Console;

namespace Entrupy.Device.Batch;

/// <summary>Counters of a running batch, updated from many workers.</summary>
internal sealed class BatchCounters
{
    private int succeeded;
    private int failed;

    /// <summary>Lines to send in this run.</summary>
    public int ToDo { get; init; }

    /// <summary>Lines done in this run.</summary>
    public int Succeeded => Volatile.Read(ref succeeded);

    /// <summary>Lines failed in this run.</summary>
    public int Failed => Volatile.Read(ref failed);

    /// <summary>Lines finished (either way).</summary>
    public int Finished => Succeeded + Failed;

    /// <summary>Since the first line was sent.</summary>
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    /// <summary>One more line done.</summary>
    public void AddSucceeded() => Interlocked.Increment(ref succeeded);

    /// <summary>One more line failed.</summary>
    public void AddFailed() => Interlocked.Increment(ref failed);

    /// <summary>Lines finished per second so far.</summary>
    public double Rate => Finished / Math.Max(Clock.Elapsed.TotalSeconds, 1e-3);

    /// <summary>Estimated time to finish, or null before anything finished.</summary>
    public TimeSpan? Eta => Finished == 0 ? null : TimeSpan.FromSeconds((ToDo - Finished) / Math.Max(Rate, 1e-9));

    /// <summary>One plain progress line.</summary>
    public string Describe() =>
        $"{Finished}/{ToDo} ({(ToDo == 0 ? 100 : 100.0 * Finished / ToDo):0.0}%) ok={Succeeded} failed={Failed} rate={Rate:0.0}/s eta={(Eta is { } e ? e.ToString(@"hh\:mm\:ss") : "--:--:--")}";
}

/// <summary>
/// Shows a batch's progress while its work runs: a live Spectre.Console bar when stdout is a terminal,
/// else a plain line on stderr every <c>interval</c> (and one at the end).
/// </summary>
internal static class BatchProgress
{
    /// <summary>Runs <paramref name="work"/> with progress display.</summary>
    public static async Task RunAsync(BatchCounters counters, bool liveBar, TextWriter plain, TimeSpan interval, string label, Func<Task> work)
    {
        if (liveBar)
        {
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask(label, maxValue: Math.Max(counters.ToDo, 1));
                    var running = work();
                    while (!running.IsCompleted)
                    {
                        await Task.WhenAny(running, Task.Delay(250)).ConfigureAwait(false);
                        task.Value = counters.Finished;
                        task.Description = $"{label} {counters.Finished}/{counters.ToDo} ok={counters.Succeeded} failed={counters.Failed} {counters.Rate:0.0}/s";
                    }
                    task.Value = Math.Max(counters.ToDo, 1);
                    await running.ConfigureAwait(false);
                }).ConfigureAwait(false);
            return;
        }
        var job = work();
        while (!job.IsCompleted)
        {
            await Task.WhenAny(job, Task.Delay(interval)).ConfigureAwait(false);
            if (!job.IsCompleted) plain.WriteLine($"{label}: {counters.Describe()}");
        }
        plain.WriteLine($"{label}: {counters.Describe()}");
        await job.ConfigureAwait(false);
    }
}
