using System.Collections.Concurrent;
using System.CommandLine;
using Entrupy.Client;
using Entrupy.Device.Batch;
using Entrupy.Device.Cli;
using Entrupy.Device.Output;
using Entrupy.Registry.Api;

namespace Entrupy.Device.Commands;

/// <summary><c>batch register</c> and <c>batch link</c>: manifests sent with bounded concurrency, journalled, resumable.</summary>
internal static class BatchCommands
{
    private const int BatchMaxRetries = 6;

    public static void AddTo(RootCommand root, CommandRunner app)
    {
        var batch = new Command("batch", "Register or link many items from a CSV manifest (resumable)");
        batch.Subcommands.Add(Register(app));
        batch.Subcommands.Add(Link(app));
        root.Subcommands.Add(batch);
    }

    private sealed class CommonOptions
    {
        public Option<string> Manifest { get; } = new("--manifest", "-m") { Description = "The CSV manifest", Required = true };
        public Option<string?> Journal { get; } = new("--journal") { Description = "Journal file (default: <manifest>.journal beside it)" };
        public Option<int> Concurrency { get; } = new("--concurrency", "-c") { Description = "Requests in flight at once (1-64)", DefaultValueFactory = _ => 8 };
        public Option<double> ProgressInterval { get; } = new("--progress-interval") { Description = "Seconds between plain progress lines (when stdout is not a terminal)", DefaultValueFactory = _ => 5 };

        public void AddTo(Command command)
        {
            Concurrency.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 64) r.AddError("--concurrency must be 1-64"); });
            command.Options.Add(Manifest);
            command.Options.Add(Journal);
            command.Options.Add(Concurrency);
            command.Options.Add(ProgressInterval);
        }
    }

    private static Command Register(CommandRunner app)
    {
        var common = new CommonOptions();
        var temporary = new Option<bool>("--temporary") { Description = "Register under generated temporary ids (recorded in the journal); link them later with 'entrupy link' or 'batch link'" };
        var deviceId = new Option<string?>("--device-id") { Description = "Capturing device, for every line" };
        var operatorId = new Option<string?>("--operator") { Description = "Operator, for every line" };
        var command = new Command("register", "Register every line of a manifest: customer_item_id,image[,image…][,bizStep[,location]]") { temporary, deviceId, operatorId };
        common.AddTo(command);
        app.Bind(command, "batch register", (ctx, ct) =>
        {
            var isTemporary = ctx.Get(temporary);
            var device = ctx.Get(deviceId);
            var op = ctx.Get(operatorId);
            return RunAsync<RegistrationLine>(ctx, common, "register", isTemporary, "customer_item_id", ct,
                (line, baseDir) => Manifest.ParseRegistration(line, baseDir, isTemporary, out var error) is { } parsed ? (parsed, null) : (null, error),
                async (client, journal, parsed, ct2) =>
                {
                    var line = parsed.Line;
                    var id = isTemporary ? journal.TemporaryIdFor(line) : parsed.CustomerItemId;
                    var started = journal.Start(line, () => new JournalRecord
                    {
                        Id = id,
                        Reference = isTemporary ? parsed.CustomerItemId : null,
                        Key = journal.IdempotencyKeyFor(line),
                        At = DateTimeOffset.Now,
                    });
                    var images = new CaptureImage[parsed.Images.Count];
                    for (var i = 0; i < images.Length; i++) images[i] = await CaptureImage.FromFileAsync(parsed.Images[i], ct2).ConfigureAwait(false);
                    var metadata = RegistrationOptions.Build(parsed.BizStep, parsed.Location, null, started.At!.Value) with { DeviceId = device, OperatorId = op };
                    try
                    {
                        var response = await client.RegisterAsync(started.Id!, images, metadata, new RequestOptions { IdempotencyKey = started.Key }, ct2).ConfigureAwait(false);
                        return new JournalRecord { Id = response.CustomerItemId, Reference = started.Reference, Registration = response.Registration.Number };
                    }
                    catch (EntrupyApiException e) when (e.Status is >= 200 and < 300)
                    {
                        // A success whose body is unreadable: the replay of a first answer that never reached a killed
                        // run can come back empty. The status proves the registration; read the item for its number.
                        var view = await client.GetItemAsync(started.Id!, ct2).ConfigureAwait(false);
                        if (view.CurrentRegistration is not { } current) throw;
                        return new JournalRecord { Id = started.Id, Reference = started.Reference, Registration = current.Number };
                    }
                },
                parsed => parsed.CustomerItemId);
        });
        return command;
    }

    private static Command Link(CommandRunner app)
    {
        var common = new CommonOptions();
        var command = new Command("link", "Link every line of a manifest: temporary_id,permanent_id[,reason]");
        common.AddTo(command);
        app.Bind(command, "batch link", (ctx, ct) =>
            RunAsync<LinkLine>(ctx, common, "link", false, "temporary_id", ct,
                (line, _) => Manifest.ParseLink(line, out var error) is { } parsed ? (parsed, null) : (null, error),
                async (client, journal, parsed, ct2) =>
                {
                    var started = journal.Start(parsed.Line, () => new JournalRecord { Id = parsed.TemporaryId, Key = journal.IdempotencyKeyFor(parsed.Line) });
                    try
                    {
                        var view = await client.LinkAsync(parsed.TemporaryId, new LinkRequest { PermanentCustomerItemId = parsed.PermanentId, Reason = parsed.Reason },
                            new RequestOptions { IdempotencyKey = started.Key }, ct2).ConfigureAwait(false);
                        return new JournalRecord { Id = parsed.TemporaryId, Reference = view.CustomerItemId };
                    }
                    catch (EntrupyApiException e) when (e.Status is >= 200 and < 300)
                    {
                        // As for registrations: a success with a lost body is confirmed by reading the temporary item.
                        var temp = await client.GetItemAsync(parsed.TemporaryId, ct2).ConfigureAwait(false);
                        if (temp.LinkedTo?.CustomerItemId != parsed.PermanentId) throw;
                        return new JournalRecord { Id = parsed.TemporaryId, Reference = parsed.PermanentId };
                    }
                },
                parsed => parsed.TemporaryId));
        return command;
    }

    private static async Task<int> RunAsync<TLine>(CommandContext ctx, CommonOptions common, string mode, bool temporary, string headerField, CancellationToken ct,
        Func<ManifestLine, string, (TLine? Parsed, string? Error)> parse,
        Func<EntrupyClient, BatchJournal, TLine, CancellationToken, Task<JournalRecord>> send,
        Func<TLine, string> idOf) where TLine : class
    {
        var output = ctx.Output;
        var manifestPath = ctx.FullPath(ctx.Get(common.Manifest)!);
        if (!File.Exists(manifestPath)) throw new UsageException($"manifest not found: {manifestPath}");
        var journalPath = ctx.Get(common.Journal) is { } j ? ctx.FullPath(j) : BatchJournal.DefaultPathFor(manifestPath);
        var baseDir = Path.GetDirectoryName(manifestPath)!;
        var lines = Manifest.ReadLines(manifestPath, headerField);

        var options = ctx.ClientOptions();
        // A batch outlives short outages and rate limits: more patience than a single command.
        options.MaxRetries = BatchMaxRetries;
        using var client = new EntrupyClient(options);
        using var journal = BatchJournal.Open(journalPath, mode, temporary, manifestPath);
        if (journal.IgnoredLines > 0) output.Info($"journal {journalPath}: ignored {journal.IgnoredLines} unreadable record(s) (cut by an interruption)");
        output.Debug($"journal {journalPath}, run {journal.RunId}");

        var todo = lines.Where(l => journal.Done(l) is null).ToList();
        var skipped = lines.Count - todo.Count;
        if (skipped > 0) output.Info($"batch {mode}: {skipped} line(s) already done in an earlier run; sending the other {todo.Count}");

        var counters = new BatchCounters { ToDo = todo.Count };
        var failures = new ConcurrentBag<BatchFailure>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        (int Code, string Message, ProblemInfo? Problem)? abort = null;
        var abortLock = new Lock();

        void Fail(ManifestLine line, string? id, int code, string reason)
        {
            var kind = ExitCodes.KindOf(code);
            failures.Add(new BatchFailure { Line = line.LineNumber, CustomerItemId = id, Kind = kind, Reason = output.Scrub(reason) });
            journal.MarkFailed(line, kind, output.Scrub(reason));
            counters.AddFailed();
            output.Info($"line {line.LineNumber}{(id is null or "" ? "" : $" ({id})")}: {kind}: {reason}");
        }

        async Task Work()
        {
            try
            {
                await Parallel.ForEachAsync(todo, new ParallelOptions { MaxDegreeOfParallelism = ctx.Get(common.Concurrency), CancellationToken = stop.Token },
                    async (line, lineToken) =>
                    {
                        var (parsed, error) = parse(line, baseDir);
                        if (parsed is null)
                        {
                            Fail(line, line.Fields.Count > 0 ? line.Fields[0] : null, ExitCodes.BadInput, error ?? "unusable line");
                            return;
                        }
                        try
                        {
                            var done = await send(client, journal, parsed, lineToken).ConfigureAwait(false);
                            journal.MarkDone(line, done);
                            counters.AddSucceeded();
                        }
                        catch (OperationCanceledException) when (lineToken.IsCancellationRequested)
                        {
                            // Stopping: the line stays "started" and is re-sent with the same key next run.
                        }
                        catch (Exception e)
                        {
                            var (code, message, problem) = CommandRunner.Classify(e);
                            if (code is ExitCodes.AuthError or ExitCodes.Unreachable)
                            {
                                // Every other line would fail the same way: stop, keep the rest for a re-run.
                                lock (abortLock) abort ??= (code, message, problem);
                                await stop.CancelAsync().ConfigureAwait(false);
                                return;
                            }
                            Fail(line, idOf(parsed), code, message);
                        }
                    }).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }

        var liveBar = ctx.Host.OutputIsTerminal && !output.Json;
        var interval = TimeSpan.FromSeconds(Math.Max(0.1, ctx.Get(common.ProgressInterval)));
        await BatchProgress.RunAsync(counters, liveBar, ctx.Host.Error, interval, $"batch {mode}", Work).ConfigureAwait(false);

        var elapsed = counters.Clock.Elapsed.TotalSeconds;
        var result = new BatchResult
        {
            Manifest = manifestPath,
            Journal = journalPath,
            Total = lines.Count,
            Succeeded = counters.Succeeded,
            Skipped = skipped,
            Failed = counters.Failed,
            Pending = todo.Count - counters.Finished,
            ElapsedSeconds = Math.Round(elapsed, 3),
            ItemsPerSecond = Math.Round(counters.Succeeded / Math.Max(elapsed, 1e-3), 2),
            Failures = [.. failures.OrderBy(f => f.Line)],
            TemporaryItems = temporary
                ? [.. journal.DoneRecords.OrderBy(r => r.Line).Select(r => new TemporaryItem { Line = r.Line ?? 0, Reference = r.Reference ?? "", TemporaryId = r.Id ?? "" })]
                : [],
        };

        // A stopped batch still shows what it did (readable mode; --json carries it in the error object's envelope).
        if ((abort is not null || ct.IsCancellationRequested) && !output.Json) WriteSummary(ctx.Host.Out, mode, result);
        if (abort is { } a)
            return output.Fail(a.Code, $"{a.Message}; stopped with {result.Pending} line(s) not sent: run the same command again to resume", a.Problem, result);
        if (ct.IsCancellationRequested)
            return output.Fail(ExitCodes.Interrupted, $"interrupted with {result.Pending} line(s) not sent: run the same command again to resume", null, result);
        return output.Result(result.Failed > 0 ? ExitCodes.PartialFailure : ExitCodes.Success, result, w => WriteSummary(w, mode, result));
    }

    private static void WriteSummary(TextWriter w, string mode, BatchResult r)
    {
        var verb = mode == "register" ? "registered" : "linked";
        w.WriteLine($"batch {mode}: {r.Succeeded} {verb}, {r.Skipped} already done, {r.Failed} failed, of {r.Total} line(s) in {r.ElapsedSeconds:0.0} s ({r.ItemsPerSecond:0.0} items/s)");
        w.WriteLine($"journal: {r.Journal}");
        if (r.Failures.Length > 0)
        {
            w.WriteLine("failures (fix the lines and run the same command again; done lines are skipped):");
            const int shown = 50;
            foreach (var f in r.Failures.Take(shown)) w.WriteLine($"  line {f.Line}{(f.CustomerItemId is null or "" ? "" : $" ({f.CustomerItemId})")}: {f.Kind}: {f.Reason}");
            if (r.Failures.Length > shown) w.WriteLine($"  … and {r.Failures.Length - shown} more (--json lists all)");
        }
        if (r.TemporaryItems.Length > 0)
        {
            w.WriteLine("temporary ids (reference -> temporary_id):");
            foreach (var t in r.TemporaryItems) w.WriteLine($"  line {t.Line}: {t.Reference} -> {t.TemporaryId}");
        }
    }
}
