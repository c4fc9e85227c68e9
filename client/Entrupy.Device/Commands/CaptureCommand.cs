using System.CommandLine;
using System.Text.Json;
using Entrupy.Client;
using Entrupy.Device.Capture;
using Entrupy.Device.Cli;
using Entrupy.Device.Output;

namespace Entrupy.Device.Commands;

/// <summary>
/// <c>capture</c>: guided registration by item-type profile. Each spot's capture is checked with the server's quality
/// gate (<c>POST /captures/assess</c>); a bad one is explained (how to retake it) and, at a terminal, asked for again. Nothing is
/// uploaded until every spot passes.
/// </summary>
internal static class CaptureCommand
{
    public static void AddTo(RootCommand root, CommandRunner app)
    {
        var profile = new Option<string>("--profile", "-p") { Description = "Item type: bag, shoe, watch, garment (see 'entrupy capture profiles')", Required = true };
        var item = ItemCommands.ItemOption();
        var images = new Option<string[]>("--image", "-i") { Description = "SPOT=PATH for a spot of the profile; repeat per spot (missing spots are asked for at a terminal)", Arity = ArgumentArity.ZeroOrMore };
        var checkOnly = new Option<bool>("--check-only") { Description = "Check the captures, do not upload" };
        var profilesFile = new Option<string?>("--profiles") { Description = "Profiles file (default: profiles.json shipped with the tool)", Recursive = true };
        var meta = new RegistrationOptions();
        var command = new Command("capture", "Guided capture: check each spot of an item-type profile with the server's quality gate, then register") { profile, item, images, checkOnly, profilesFile };
        meta.AddTo(command);
        app.Bind(command, "capture", async (ctx, ct) =>
        {
            var profiles = CaptureProfiles.Load(ctx.Get(profilesFile) is { } pf ? ctx.FullPath(pf) : CaptureProfiles.DefaultPath);
            var name = ctx.Get(profile)!;
            if (!profiles.Profiles.TryGetValue(name, out var chosen))
                throw new UsageException($"unknown profile '{name}'; known: {string.Join(", ", profiles.Profiles.Keys.Order(StringComparer.Ordinal))}");
            var id = ItemCommands.ValidId(ctx.Get(item)!);
            var given = ParseSpots(ctx, chosen, ctx.Get(images) ?? []);
            var interactive = ctx.Host.InputIsTerminal && !ctx.Output.Json;

            var missing = chosen.Spots.Where(s => !given.ContainsKey(s.Name)).ToList();
            if (missing.Count > 0 && !interactive)
                throw new UsageException($"missing captures for {string.Join(", ", missing.Select(s => s.Name))}: pass --image SPOT=PATH for each ({string.Join("; ", missing.Select(s => s.Name + ": " + s.Instruction))})");

            var gate = new ServerQualityGate(ctx.Client);
            var checks = new List<(CaptureSpot Spot, CaptureCheck Check)>();
            foreach (var spot in chosen.Spots)
            {
                var path = given.TryGetValue(spot.Name, out var p) ? p : Prompt(ctx, spot, null);
                var check = path is null ? null : await gate.CheckAsync(path, ct);
                // At a terminal, a failed capture is explained and asked for again until it passes (or the operator gives up).
                while (interactive && check is { Passes: false })
                {
                    path = Prompt(ctx, spot, check);
                    if (path is null) break;
                    check = await gate.CheckAsync(path, ct);
                }
                if (check is null) throw new UsageException($"no capture for {spot.Name}");
                checks.Add((spot, check));
                ctx.Output.Debug($"{spot.Name}: {(check.Passes ? "ok" : check.Rejection)} {check.Path}");
            }

            var spots = checks.Select(c => ToSpotCheck(c.Spot, c.Check)).ToArray();
            var result = new CaptureResult { Profile = name, CustomerItemId = id, Spots = spots };
            if (spots.Any(s => !s.Passes))
            {
                if (!ctx.Output.Json) WriteChecks(ctx.Host.Out, spots);
                var bad = spots.Where(s => !s.Passes).Select(s => s.Spot);
                return ctx.Output.Fail(ExitCodes.BadInput, $"retake {string.Join(", ", bad)}: nothing was uploaded", null, result);
            }
            if (ctx.Get(checkOnly))
                return ctx.Output.Result(ExitCodes.Success, result, w => { WriteChecks(w, spots); w.WriteLine("all captures pass (--check-only: nothing uploaded)"); });

            var uploads = checks.Select(c => CaptureImage.FromFile(c.Check.Path)).ToArray();
            var key = ctx.Get(meta.IdempotencyKey) ?? Guid.NewGuid().ToString();
            var response = await ctx.Client.RegisterAsync(id, uploads, meta.Build(ctx, DateTimeOffset.Now), new RequestOptions { IdempotencyKey = key }, ct);
            var registration = RegisterResult.From(response, key);
            result = result with { Registered = true, Registration = registration };
            return ctx.Output.Result(ExitCodes.Success, result, w => { WriteChecks(w, spots); ItemCommands.WriteRegistration(w, registration); });
        });

        var list = new Command("profiles", "List the capture profiles and their spots");
        app.Bind(list, "capture profiles", (ctx, _) =>
        {
            var profiles = CaptureProfiles.Load(ctx.Get(profilesFile) is { } pf ? ctx.FullPath(pf) : CaptureProfiles.DefaultPath);
            var payload = new { Profiles = profiles.Profiles.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value) };
            return Task.FromResult(ctx.Output.Result(ExitCodes.Success, payload, w =>
            {
                foreach (var (n, p) in profiles.Profiles.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    w.WriteLine($"{n}: {p.Description}");
                    foreach (var s in p.Spots) w.WriteLine($"  {s.Name,-16} {s.Instruction}");
                }
            }));
        });
        command.Subcommands.Add(list);
        root.Subcommands.Add(command);
    }

    private static Dictionary<string, string> ParseSpots(CommandContext ctx, CaptureProfile profile, string[] values)
    {
        var spots = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            var eq = value.IndexOf('=');
            if (eq <= 0 || eq == value.Length - 1) throw new UsageException($"--image '{value}' must be SPOT=PATH (spots: {string.Join(", ", profile.Spots.Select(s => s.Name))})");
            var spot = value[..eq];
            if (!profile.Spots.Any(s => s.Name == spot))
                throw new UsageException($"unknown spot '{spot}'; this profile's spots: {string.Join(", ", profile.Spots.Select(s => s.Name))}");
            if (!spots.TryAdd(spot, ctx.FullPath(value[(eq + 1)..]))) throw new UsageException($"spot '{spot}' is given twice");
        }
        return spots;
    }

    private static string? Prompt(CommandContext ctx, CaptureSpot spot, CaptureCheck? failed)
    {
        var err = ctx.Host.Error;
        if (failed is not null)
        {
            err.WriteLine($"  {spot.Name}: {failed.Message}");
            err.WriteLine($"  {failed.Advice}");
            err.Write($"  retake {spot.Name} and enter the new file's path (empty: give up): ");
        }
        else
        {
            err.WriteLine($"{spot.Name}: {spot.Instruction}");
            err.Write($"  path of the {spot.Name} capture: ");
        }
        err.Flush();
        var line = ctx.Host.In.ReadLine()?.Trim().Trim('"');
        return string.IsNullOrEmpty(line) ? null : ctx.FullPath(line);
    }

    private static SpotCheck ToSpotCheck(CaptureSpot spot, CaptureCheck check) => new()
    {
        Spot = spot.Name,
        Image = check.Path,
        Passes = check.Passes,
        Rejection = check.Rejection,
        Advice = check.Advice,
        Focus = check.Quality?.Focus,
        Mean = check.Quality?.Mean,
        Contrast = check.Quality?.Contrast,
        Clipped = check.Quality?.Clipped,
    };

    private static void WriteChecks(TextWriter w, IEnumerable<SpotCheck> spots)
    {
        foreach (var s in spots)
        {
            w.WriteLine(s.Passes
                ? $"  ok      {s.Spot,-16} focus {ItemCommands.F(s.Focus ?? 0)} mean {ItemCommands.F(s.Mean ?? 0)} contrast {ItemCommands.F(s.Contrast ?? 0)}"
                : $"  RETAKE  {s.Spot,-16} {s.Rejection}: {s.Advice}");
        }
    }
}
