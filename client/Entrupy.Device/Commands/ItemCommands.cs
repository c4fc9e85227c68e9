using System.CommandLine;
using System.Globalization;
using Entrupy.Client;
using Entrupy.Device.Cli;
using Entrupy.Device.Output;
using Entrupy.Registry;
using Entrupy.Registry.Api;

namespace Entrupy.Device.Commands;

/// <summary>register, compare, trace, authenticate, custody add/list, item show, link.</summary>
internal static class ItemCommands
{
    public static void AddTo(RootCommand root, CommandRunner app)
    {
        root.Subcommands.Add(Register(app));
        root.Subcommands.Add(Compare(app));
        root.Subcommands.Add(Trace(app));
        root.Subcommands.Add(Authenticate(app));
        root.Subcommands.Add(Custody(app));
        root.Subcommands.Add(Item(app));
        root.Subcommands.Add(Link(app));
    }

    /// <summary><c>--item</c>, required.</summary>
    public static Option<string> ItemOption(string description = "The item's customer_item_id") =>
        new("--item") { Description = description, Required = true };

    /// <summary><c>--image</c>, repeatable, at least one.</summary>
    public static Option<string[]> ImagesOption() =>
        new("--image", "-i") { Description = "A capture file (JPEG, PNG or BMP); repeat for several", Required = true, Arity = ArgumentArity.OneOrMore };

    private static Command Register(CommandRunner app)
    {
        var item = ItemOption();
        var images = ImagesOption();
        var meta = new RegistrationOptions();
        var command = new Command("register", "Register (or re-register) an item's fingerprint from captures") { item, images };
        meta.AddTo(command);
        app.Bind(command, "register", async (ctx, ct) =>
        {
            var id = ValidId(ctx.Get(item)!);
            var captures = ReadImages(ctx, ctx.Get(images)!);
            var key = ctx.Get(meta.IdempotencyKey) ?? Guid.NewGuid().ToString();
            var response = await ctx.Client.RegisterAsync(id, captures, meta.Build(ctx, DateTimeOffset.Now), new RequestOptions { IdempotencyKey = key }, ct);
            var result = RegisterResult.From(response, key);
            return ctx.Output.Result(ExitCodes.Success, result, w => WriteRegistration(w, result));
        });
        return command;
    }

    private static Command Compare(CommandRunner app)
    {
        var item = ItemOption("The item to compare the captures with");
        var images = ImagesOption();
        var command = new Command("compare", "1:1: do these captures show this item? Exit 0 on a match, 1 on no match") { item, images };
        app.Bind(command, "compare", async (ctx, ct) =>
        {
            var id = ValidId(ctx.Get(item)!);
            var r = await ctx.Client.CompareAsync(id, ReadImages(ctx, ctx.Get(images)!), ct: ct);
            var result = new CompareResult
            {
                CustomerItemId = r.CustomerItemId, Match = r.Match, Score = r.Score, Threshold = r.Threshold,
                RegistrationNumber = r.RegistrationNumber, Model = r.Model, Captures = r.Captures,
            };
            return ctx.Output.Result(r.Match ? ExitCodes.Success : ExitCodes.NoMatch, result, w =>
                w.WriteLine($"{(r.Match ? "MATCH" : "NO MATCH")} {r.CustomerItemId}: score {F(r.Score)} (threshold {F(r.Threshold)}, registration #{r.RegistrationNumber}, model {r.Model})"));
        });
        return command;
    }

    private static Command Trace(CommandRunner app)
    {
        var images = ImagesOption();
        var top = new Option<int>("--top") { Description = "Candidates to return (1-20)", DefaultValueFactory = _ => 5 };
        top.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 20) r.AddError("--top must be 1-20"); });
        var command = new Command("trace", "1:N: which registered item do these captures show? Exit 0 on a match, 1 on no match") { images, top };
        app.Bind(command, "trace", async (ctx, ct) =>
        {
            var r = await ctx.Client.TraceAsync(ReadImages(ctx, ctx.Get(images)!), ctx.Get(top), ct: ct);
            var result = new TraceResult { Match = r.Match, Candidates = r.Candidates, Threshold = r.Threshold, Model = r.Model, Captures = r.Captures };
            return ctx.Output.Result(r.Match is null ? ExitCodes.NoMatch : ExitCodes.Success, result, w =>
            {
                w.WriteLine(r.Match is { } m
                    ? $"MATCH {m.CustomerItemId}: score {F(m.Score)} (threshold {F(r.Threshold)}, model {r.Model})"
                    : $"NO MATCH (threshold {F(r.Threshold)}, model {r.Model})");
                if (r.Match?.LastCustodyEvent is { } e) w.WriteLine($"  last custody event: {e.BizStep} at {e.EventTime:O}{(e.ReadPointId is null ? "" : " (" + e.ReadPointId + ")")}");
                for (var i = 0; i < r.Candidates.Length; i++)
                    w.WriteLine($"  {i + 1}. {r.Candidates[i].CustomerItemId,-32} {F(r.Candidates[i].Score),8}{(r.Candidates[i].Match ? "  match" : "")}");
            });
        });
        return command;
    }

    private static Command Authenticate(CommandRunner app)
    {
        var item = ItemOption();
        var images = ImagesOption();
        var model = new Option<string>("--model") { Description = "Authentication model (brand+material, e.g. acme-leather)", Required = true };
        var authId = new Option<string?>("--authentication-id") { Description = "Client-chosen id (a retry with it returns the stored result)" };
        var wait = new Option<double>("--wait") { Description = "Seconds to wait for a final verdict (0: do not wait)", DefaultValueFactory = _ => 60 };
        var command = new Command("authenticate", "Submit captures for authentication and wait for the verdict") { item, images, model, authId, wait };
        app.Bind(command, "authenticate", async (ctx, ct) =>
        {
            var id = ValidId(ctx.Get(item)!);
            var submission = new AuthenticationSubmission { Model = ctx.Get(model)!, AuthenticationId = ctx.Get(authId) };
            var submitted = await ctx.Client.SubmitAuthenticationAsync(id, ReadImages(ctx, ctx.Get(images)!), submission, ct: ct);
            var result = submitted;
            var seconds = ctx.Get(wait);
            if (result.Status == AuthenticationStatus.Pending && seconds > 0)
            {
                try { result = await ctx.Client.WaitForAuthenticationAsync(id, submitted.AuthenticationId, TimeSpan.FromSeconds(seconds), ct); }
                catch (TimeoutException) { result = await ctx.Client.GetAuthenticationAsync(id, submitted.AuthenticationId, ct); }
            }
            var final = result.Status != AuthenticationStatus.Pending;
            var payload = new AuthenticateResult { CustomerItemId = id, Final = final, Authentication = result };
            return ctx.Output.Result(ExitCodes.Success, payload, w =>
            {
                w.WriteLine($"{id}: authentication {result.AuthenticationId} is {StatusName(result.Status)}{(final ? "" : " (no verdict yet: check again with 'entrupy item show')")}");
                w.WriteLine($"  model {result.ModelId}{(result.ModelVersion is null ? "" : " " + result.ModelVersion)}");
                foreach (var (name, score) in result.Scores.OrderBy(s => s.Key, StringComparer.Ordinal)) w.WriteLine($"  {name}: {F(score)}");
            });
        });
        return command;
    }

    private static Command Custody(CommandRunner app)
    {
        var custody = new Command("custody", "Chain-of-custody events (EPCIS 2.0)");

        var item = ItemOption();
        var bizStep = new Option<string>("--biz-step") { Description = "CBV 2.0 business step (e.g. shipping, receiving)", Required = true };
        var action = new Option<string>("--action") { Description = "add, observe or delete", DefaultValueFactory = _ => "observe" };
        action.AcceptOnlyFromAmong("add", "observe", "delete");
        var disposition = new Option<string?>("--disposition") { Description = "CBV 2.0 disposition (e.g. in_transit)" };
        var location = new Option<string?>("--location") { Description = "Where it was seen (readPoint): SGLN EPC URI or https URI" };
        var bizLocation = new Option<string?>("--biz-location") { Description = "Where it is afterwards (bizLocation): SGLN EPC URI or https URI" };
        var eventTime = new Option<DateTimeOffset?>("--event-time") { Description = "When it happened (ISO 8601 with offset); default now" };
        var eventId = new Option<string?>("--event-id") { Description = "eventID (absolute URI); a retry with it returns the stored event" };
        var add = new Command("add", "Record a custody event") { item, bizStep, action, disposition, location, bizLocation, eventTime, eventId };
        app.Bind(add, "custody add", async (ctx, ct) =>
        {
            var id = ValidId(ctx.Get(item)!);
            var request = new CustodyEventRequest
            {
                BizStep = ctx.Get(bizStep)!,
                Action = ParseAction(ctx.Get(action)!),
                Disposition = ctx.Get(disposition),
                ReadPointId = ctx.Get(location),
                BizLocationId = ctx.Get(bizLocation),
                EventTime = ctx.Get(eventTime) ?? DateTimeOffset.Now,
                EventId = ctx.Get(eventId),
            };
            var recorded = await ctx.Client.AddCustodyEventAsync(id, request, ct: ct);
            return ctx.Output.Result(ExitCodes.Success, new CustodyAddResult { CustomerItemId = id, Event = recorded }, w =>
                w.WriteLine($"{id}: custody event #{recorded.Sequence} {recorded.Action.ToString().ToUpperInvariant()} {recorded.BizStep} recorded ({recorded.EventId}, hash {recorded.Hash[..12]}…)"));
        });
        custody.Subcommands.Add(add);

        var listItem = ItemOption();
        var from = new Option<int>("--from") { Description = "First sequence number", DefaultValueFactory = _ => 0 };
        var limit = new Option<int>("--limit") { Description = "Events per page (1-1000)", DefaultValueFactory = _ => 100 };
        limit.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 1000) r.AddError("--limit must be 1-1000"); });
        var all = new Option<bool>("--all") { Description = "Follow pages to the end" };
        var list = new Command("list", "List an item's custody events") { listItem, from, limit, all };
        app.Bind(list, "custody list", async (ctx, ct) =>
        {
            var id = ValidId(ctx.Get(listItem)!);
            var events = new List<CustodyEvent>();
            int? next = ctx.Get(from);
            do
            {
                var page = await ctx.Client.ListCustodyEventsAsync(id, next!.Value, ctx.Get(limit), ct);
                events.AddRange(page.Events);
                next = page.NextFrom;
            }
            while (ctx.Get(all) && next is not null);
            return ctx.Output.Result(ExitCodes.Success, new CustodyListResult { CustomerItemId = id, Events = [.. events], NextFrom = next }, w =>
            {
                if (events.Count == 0) w.WriteLine($"{id}: no custody events");
                foreach (var e in events) w.WriteLine(DescribeEvent(e));
                if (next is not null) w.WriteLine($"(more: --from {next})");
            });
        });
        custody.Subcommands.Add(list);
        return custody;
    }

    private static Command Item(CommandRunner app)
    {
        var itemCommand = new Command("item", "Items");
        var id = ItemOption();
        var show = new Command("show", "Show everything the registry holds about an item") { id };
        app.Bind(show, "item show", async (ctx, ct) =>
        {
            var view = await ctx.Client.GetItemAsync(ValidId(ctx.Get(id)!), ct);
            var result = ItemShowResult.From(view);
            return ctx.Output.Result(ExitCodes.Success, result, w => WriteItem(w, view));
        });
        itemCommand.Subcommands.Add(show);
        return itemCommand;
    }

    private static Command Link(CommandRunner app)
    {
        var temp = ItemOption("The temporary id");
        var to = new Option<string>("--to") { Description = "The permanent customer_item_id", Required = true };
        var reason = new Option<string?>("--reason") { Description = "Why (kept with the link)" };
        var command = new Command("link", "Link a temporary id (e.g. from 'batch register --temporary') to the permanent id") { temp, to, reason };
        app.Bind(command, "link", async (ctx, ct) =>
        {
            var tempId = ValidId(ctx.Get(temp)!);
            var permanent = ValidId(ctx.Get(to)!);
            var view = await ctx.Client.LinkAsync(tempId, new LinkRequest { PermanentCustomerItemId = permanent, Reason = ctx.Get(reason) }, ct: ct);
            var result = new LinkResult { TemporaryId = tempId, PermanentId = view.CustomerItemId, LinkedFrom = view.LinkedFrom };
            return ctx.Output.Result(ExitCodes.Success, result, w =>
                w.WriteLine($"linked {tempId} -> {view.CustomerItemId} ({view.LinkedFrom.Length} temporary id(s) linked into it)"));
        });
        return command;
    }

    /// <summary>Checks an id against the API's rule before any request.</summary>
    public static string ValidId(string id) =>
        ItemKey.IsValidCustomerItemId(id) ? id : throw new UsageException($"'{id}' is not a valid customer_item_id: {ItemKey.CustomerItemIdRule}");

    /// <summary>Reads capture files, failing with a clear message for a missing one.</summary>
    public static CaptureImage[] ReadImages(CommandContext ctx, IEnumerable<string> paths) =>
        [.. paths.Select(p =>
        {
            var full = ctx.FullPath(p);
            if (!File.Exists(full)) throw new UsageException($"image not found: {full}");
            return CaptureImage.FromFile(full);
        })];

    /// <summary>Readable form of a registration.</summary>
    public static void WriteRegistration(TextWriter w, RegisterResult r)
    {
        w.WriteLine($"registered {r.CustomerItemId}: registration #{r.RegistrationNumber}{(r.Superseded is { } s ? $" (supersedes #{s})" : "")}, model {r.ModelId} {r.ModelVersion}, {r.Captures.Length} capture(s)");
        foreach (var c in r.Captures) w.WriteLine($"  capture {c.Index}: {c.Width}x{c.Height} focus {F(c.Focus)} mean {F(c.Mean)} contrast {F(c.Contrast)}");
        if (r.CustodyEvent is { } e) w.WriteLine("  " + DescribeEvent(e));
    }

    /// <summary>Numbers as the readable output shows them (invariant, 3 significant decimals).</summary>
    public static string F(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>Wire name of an authentication status.</summary>
    public static string StatusName(AuthenticationStatus status) => status switch
    {
        AuthenticationStatus.Pending => "pending",
        AuthenticationStatus.Authentic => "authentic",
        AuthenticationStatus.NotAuthentic => "not_authentic",
        AuthenticationStatus.NeedsReview => "needs_review",
        _ => status.ToString(),
    };

    /// <summary>Parses add/observe/delete.</summary>
    public static EpcisAction ParseAction(string action) => action.ToLowerInvariant() switch
    {
        "add" => EpcisAction.Add,
        "delete" => EpcisAction.Delete,
        _ => EpcisAction.Observe,
    };

    private static string DescribeEvent(CustodyEvent e) =>
        $"#{e.Sequence} {e.EventTime:yyyy-MM-dd HH:mm:ss zzz} {e.Action.ToString().ToUpperInvariant(),-7} {e.BizStep}"
        + (e.Disposition is null ? "" : $" [{e.Disposition}]")
        + (e.ReadPointId is null ? "" : $" at {e.ReadPointId}")
        + (e.BizLocationId is null ? "" : $" -> {e.BizLocationId}");

    private static void WriteItem(TextWriter w, ItemView v)
    {
        w.WriteLine($"{v.CustomerItemId}{(v.Exists ? "" : " (nothing recorded)")}");
        w.WriteLine($"  epc: {v.Epc}");
        if (v.LinkedTo is { } to) w.WriteLine($"  linked to {to.CustomerItemId} at {to.LinkedAt:O}{(to.Reason is null ? "" : " (" + to.Reason + ")")}");
        foreach (var from in v.LinkedFrom) w.WriteLine($"  linked from {from.CustomerItemId} at {from.LinkedAt:O}");
        w.WriteLine($"  lineage ({v.Lineage.Length}):");
        foreach (var r in v.Lineage)
            w.WriteLine($"    #{r.Number} {r.ModelId} {r.ModelVersion} captured {r.CapturedAt:O}{(r.IsSuperseded ? $" superseded by #{r.SupersededBy} ({r.SupersededReason})" : " (current)")}");
        w.WriteLine($"  custody ({v.Custody.Length}):");
        foreach (var e in v.Custody) w.WriteLine("    " + DescribeEvent(e));
        w.WriteLine($"  authentications ({v.Authentications.Length}):");
        foreach (var a in v.Authentications) w.WriteLine($"    {a.AuthenticationId} {StatusName(a.Status)} ({a.ModelId})");
    }
}

/// <summary>Metadata options shared by <c>register</c> and <c>capture</c>.</summary>
internal sealed class RegistrationOptions
{
    /// <summary><c>--biz-step</c>.</summary>
    public Option<string?> BizStep { get; } = new("--biz-step") { Description = "Record a custody event with the registration (CBV business step, e.g. commissioning)" };

    /// <summary><c>--location</c>.</summary>
    public Option<string?> Location { get; } = new("--location") { Description = "Capture location (SGLN EPC URI, https URI or free text; a URI is also the event's readPoint)" };

    /// <summary><c>--action</c>.</summary>
    public Option<string?> Action { get; } = new("--event-action") { Description = "Action of that custody event: add, observe or delete (default: add for commissioning, else observe)" };

    /// <summary><c>--device-id</c>.</summary>
    public Option<string?> DeviceId { get; } = new("--device-id") { Description = "Capturing device" };

    /// <summary><c>--operator</c>.</summary>
    public Option<string?> Operator { get; } = new("--operator") { Description = "Operator who captured" };

    /// <summary><c>--epc</c>.</summary>
    public Option<string?> Epc { get; } = new("--epc") { Description = "The item's EPC (SGTIN EPC URI or https URI)" };

    /// <summary><c>--supersede-reason</c>.</summary>
    public Option<string?> SupersedeReason { get; } = new("--supersede-reason") { Description = "For a re-registration: why (e.g. repaired)" };

    /// <summary><c>--idempotency-key</c>.</summary>
    public Option<string?> IdempotencyKey { get; } = new("--idempotency-key") { Description = "Idempotency-Key to send (default: a new UUID); repeat it to retry safely" };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        Action.AcceptOnlyFromAmong("add", "observe", "delete");
        foreach (var o in new Option[] { BizStep, Location, Action, DeviceId, Operator, Epc, SupersedeReason, IdempotencyKey }) command.Options.Add(o);
    }

    /// <summary>The registration metadata for a capture taken at <paramref name="capturedAt"/>.</summary>
    public RegistrationMetadata Build(CommandContext ctx, DateTimeOffset capturedAt) =>
        Build(ctx.Get(BizStep), ctx.Get(Location), ctx.Get(Action), capturedAt) with
        {
            DeviceId = ctx.Get(DeviceId),
            OperatorId = ctx.Get(Operator),
            Epc = ctx.Get(Epc),
            SupersedeReason = ctx.Get(SupersedeReason),
        };

    /// <summary>Metadata with an optional custody event (shared with the batch, which has no other options per line).</summary>
    public static RegistrationMetadata Build(string? bizStep, string? location, string? action, DateTimeOffset capturedAt)
    {
        CustodyEventRequest? custody = null;
        if (bizStep is not null)
        {
            var isLocationId = location is not null && EpcisIdentifiers.IsValidLocationId(location);
            custody = new CustodyEventRequest
            {
                BizStep = bizStep,
                Action = action is not null ? ItemCommands.ParseAction(action)
                    : bizStep.EndsWith("commissioning", StringComparison.Ordinal) ? EpcisAction.Add : EpcisAction.Observe,
                ReadPointId = isLocationId ? location : null,
                EventTime = capturedAt,
            };
        }
        return new RegistrationMetadata { Location = location, CapturedAt = capturedAt, CustodyEvent = custody };
    }
}
