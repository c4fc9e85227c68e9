using System.Text.Json;
using Entrupy.Device.Cli;

namespace Entrupy.Device.Tests;

/// <summary>Every command against a real silo, with its exit code and the pinned --json field names.</summary>
[Collection(CliCollection.Name)]
public sealed class CommandTests(CliFixture silo)
{
    private static readonly string[] Envelope = ["command", "ok", "exit_code", "error"];

    // The --json contract (docs/cli.md): adding a field is fine, renaming or dropping one breaks scripts.
    private static readonly Dictionary<string, string[]> Golden = new()
    {
        ["register"] = ["customer_item_id", "registration_number", "superseded", "model_id", "model_version", "captured_at", "registered_at", "captures", "custody_event", "idempotency_key"],
        ["compare"] = ["customer_item_id", "match", "score", "threshold", "registration_number", "model", "captures"],
        ["trace"] = ["match", "candidates", "threshold", "model", "captures"],
        ["authenticate"] = ["customer_item_id", "final", "authentication"],
        ["custody add"] = ["customer_item_id", "event"],
        ["custody list"] = ["customer_item_id", "events", "next_from"],
        ["item show"] = ["customer_item_id", "exists", "epc", "current_registration", "lineage", "custody", "authentications", "linked_to", "linked_from"],
        ["link"] = ["temporary_id", "permanent_id", "linked_from"],
        ["capture"] = ["profile", "customer_item_id", "spots", "registered", "registration"],
        ["config show"] = ["server", "server_source", "api_key", "api_key_source", "config_file", "config_file_found"],
        ["batch link"] = ["manifest", "journal", "total", "succeeded", "skipped", "failed", "pending", "elapsed_seconds", "items_per_second", "failures", "temporary_items"],
        ["batch register"] = ["manifest", "journal", "total", "succeeded", "skipped", "failed", "pending", "elapsed_seconds", "items_per_second", "failures", "temporary_items"],
    };

    internal static void AssertSchema(JsonElement json, string command, int exitCode)
    {
        Assert.Equal(command, json.GetProperty("command").GetString());
        Assert.Equal(exitCode, json.GetProperty("exit_code").GetInt32());
        var names = json.EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var field in Envelope.Concat(Golden[command])) Assert.True(names.Contains(field), $"{command}: --json lacks '{field}': {json}");
        Assert.Equal(Envelope.Length + Golden[command].Length, names.Count);
    }

    [Fact]
    public async Task Register_compare_and_trace_find_the_item_and_report_no_match_with_exit_1()
    {
        var id = "cmp-" + Guid.NewGuid().ToString("N")[..8];
        var key = await silo.NewTenantKeyAsync();
        var reg = await silo.RunAsAsync(key, "register", "--item", id, "--image", DevSet.Gallery(10), "--biz-step", "commissioning",
            "--location", "urn:epc:id:sgln:0614141.07346.1234", "--json");
        Assert.True(reg.ExitCode == 0, reg.ToString());
        AssertSchema(reg.Json, "register", 0);
        Assert.Equal(1, reg.Json.GetProperty("registration_number").GetInt32());
        Assert.Equal("commissioning", reg.Json.GetProperty("custody_event").GetProperty("biz_step").GetString());
        Assert.Equal("ADD", reg.Json.GetProperty("custody_event").GetProperty("action").GetString());

        var match = await silo.RunAsAsync(key, "compare", "--item", id, "-i", DevSet.Probe(10), "--json");
        Assert.True(match.ExitCode == ExitCodes.Success, match.ToString());
        AssertSchema(match.Json, "compare", 0);
        Assert.True(match.Json.GetProperty("match").GetBoolean());

        var other = await silo.RunAsAsync(key, "compare", "--item", id, "-i", DevSet.Probe(11), "--json");
        Assert.True(other.ExitCode == ExitCodes.NoMatch, other.ToString());
        Assert.False(other.Json.GetProperty("match").GetBoolean());
        Assert.True(other.Json.GetProperty("ok").GetBoolean());

        var trace = await silo.RunAsAsync(key, "trace", "-i", DevSet.Probe(10), "--json");
        Assert.True(trace.ExitCode == ExitCodes.Success, trace.ToString());
        AssertSchema(trace.Json, "trace", 0);
        Assert.Equal(id, trace.Json.GetProperty("match").GetProperty("customer_item_id").GetString());

        // Readable output by default.
        var text = await silo.RunAsAsync(key, "compare", "--item", id, "-i", DevSet.Probe(10));
        Assert.StartsWith("MATCH " + id, text.Out);
    }

    [Fact]
    public async Task Trace_of_an_unregistered_item_exits_1()
    {
        var key = await silo.NewTenantKeyAsync();
        var reg = await silo.RunAsAsync(key, "register", "--item", "other-item", "-i", DevSet.Gallery(12));
        Assert.True(reg.ExitCode == 0, reg.ToString());
        var trace = await silo.RunAsAsync(key, "trace", "-i", DevSet.Probe(13), "--json");
        Assert.True(trace.ExitCode == ExitCodes.NoMatch, trace.ToString());
        AssertSchema(trace.Json, "trace", ExitCodes.NoMatch);
        Assert.Equal(JsonValueKind.Null, trace.Json.GetProperty("match").ValueKind);
    }

    [Fact]
    public async Task Custody_add_list_item_show_and_link_work_and_keep_their_fields()
    {
        var temp = "tmp-" + Guid.NewGuid().ToString("N")[..8];
        var permanent = "perm-" + Guid.NewGuid().ToString("N")[..8];
        var reg = await silo.RunAsync("register", "--item", temp, "-i", DevSet.Gallery(20));
        Assert.True(reg.ExitCode == 0, reg.ToString());
        Assert.Contains("registered " + temp, reg.Out);

        var add = await silo.RunAsync("custody", "add", "--item", temp, "--biz-step", "shipping", "--disposition", "in_transit",
            "--location", "urn:epc:id:sgln:0614141.07346.1234", "--event-time", "2026-05-03T08:30:15-06:00", "--json");
        Assert.True(add.ExitCode == 0, add.ToString());
        AssertSchema(add.Json, "custody add", 0);
        Assert.Equal("-06:00", add.Json.GetProperty("event").GetProperty("event_time_zone_offset").GetString());

        var list = await silo.RunAsync("custody", "list", "--item", temp, "--all", "--json");
        Assert.True(list.ExitCode == 0, list.ToString());
        AssertSchema(list.Json, "custody list", 0);
        Assert.Equal("shipping", list.Json.GetProperty("events")[0].GetProperty("biz_step").GetString());

        var bad = await silo.RunAsync("custody", "add", "--item", temp, "--biz-step", "teleporting", "--json");
        Assert.True(bad.ExitCode == ExitCodes.BadInput, bad.ToString());
        Assert.Equal(400, bad.Json.GetProperty("error").GetProperty("status").GetInt32());

        var link = await silo.RunAsync("link", "--item", temp, "--to", permanent, "--reason", "tagged", "--json");
        Assert.True(link.ExitCode == 0, link.ToString());
        AssertSchema(link.Json, "link", 0);
        Assert.Equal(temp, link.Json.GetProperty("linked_from")[0].GetProperty("customer_item_id").GetString());

        var show = await silo.RunAsync("item", "show", "--item", temp, "--json");
        Assert.True(show.ExitCode == 0, show.ToString());
        AssertSchema(show.Json, "item show", 0);
        Assert.Equal(permanent, show.Json.GetProperty("linked_to").GetProperty("customer_item_id").GetString());
        Assert.Equal(1, show.Json.GetProperty("lineage").GetArrayLength());

        // A linked temporary item is frozen: the server's 409 is the caller's problem (bad input), not a server error.
        var frozen = await silo.RunAsync("register", "--item", temp, "-i", DevSet.Gallery(20), "--json");
        Assert.True(frozen.ExitCode == ExitCodes.BadInput, frozen.ToString());
        Assert.Equal(409, frozen.Json.GetProperty("error").GetProperty("status").GetInt32());

        var text = await silo.RunAsync("item", "show", "--item", temp);
        Assert.Contains("linked to " + permanent, text.Out);
    }

    [Fact]
    public async Task Authenticate_submits_and_reports_the_verdict()
    {
        var id = "auth-" + Guid.NewGuid().ToString("N")[..8];
        // The registry's models are discovered the way a user would: an unknown model lists the known ones.
        var unknown = await silo.RunAsync("authenticate", "--item", id, "-i", DevSet.Gallery(21), "--model", "no-such-model", "--json");
        Assert.True(unknown.ExitCode == ExitCodes.BadInput, unknown.ToString());
        var detail = unknown.Json.GetProperty("error").GetProperty("detail").GetString()!;
        var known = detail[(detail.IndexOf("known models:", StringComparison.Ordinal) + "known models:".Length)..].Trim().TrimEnd('.').Split(", ");
        Assert.NotEmpty(known[0]);

        var run = await silo.RunAsync("authenticate", "--item", id, "-i", DevSet.Gallery(21), "--model", known[0], "--wait", "30", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        AssertSchema(run.Json, "authenticate", 0);
        var auth = run.Json.GetProperty("authentication");
        Assert.Equal(known[0], auth.GetProperty("model_id").GetString());
        Assert.Equal(run.Json.GetProperty("final").GetBoolean(), auth.GetProperty("status").GetString() != "pending");
    }

    [Fact]
    public async Task Exit_codes_distinguish_not_found_auth_unreachable_and_usage()
    {
        var missing = await silo.RunAsync("custody", "list", "--item", "never-" + Guid.NewGuid().ToString("N")[..8], "--json");
        Assert.True(missing.ExitCode == ExitCodes.NotFound, missing.ToString());
        Assert.Equal("not_found", missing.Json.GetProperty("error").GetProperty("kind").GetString());

        var badKey = "ek_" + new string('x', 43);
        var auth = await silo.RunWithAsync(new Dictionary<string, string?> { ["ENTRUPY_SERVER"] = silo.Server, ["ENTRUPY_API_KEY"] = badKey },
            ["item", "show", "--item", "x1", "--json", "--verbose"]);
        Assert.True(auth.ExitCode == ExitCodes.AuthError, auth.ToString());
        Assert.Equal("auth", auth.Json.GetProperty("error").GetProperty("kind").GetString());
        Assert.DoesNotContain(badKey, auth.Out + auth.Err);

        var port = FreePort();
        var down = await silo.RunWithAsync(new Dictionary<string, string?> { ["ENTRUPY_API_KEY"] = silo.ApiKey },
            ["item", "show", "--item", "x1", "--server", $"http://127.0.0.1:{port}", "--json"]);
        Assert.True(down.ExitCode == ExitCodes.Unreachable, down.ToString());
        Assert.Equal("unreachable", down.Json.GetProperty("error").GetProperty("kind").GetString());

        var usage = await silo.RunAsync("register", "--item", "x1", "--json");
        Assert.True(usage.ExitCode == ExitCodes.BadInput, usage.ToString());
        Assert.False(usage.Json.GetProperty("ok").GetBoolean());

        var noFile = await silo.RunAsync("register", "--item", "x1", "-i", "/nonexistent/capture.jpg");
        Assert.Equal(ExitCodes.BadInput, noFile.ExitCode);
        Assert.Contains("image not found", noFile.Err);
        Assert.Empty(noFile.Out);

        // The server's own capture gate: a flat image is rejected, which is bad input too.
        var flat = DevSet.WriteFlatBmp(Path.Combine(silo.DataDir, "flat-server.bmp"));
        var rejected = await silo.RunAsync("register", "--item", "x1", "-i", flat, "--json");
        Assert.True(rejected.ExitCode == ExitCodes.BadInput, rejected.ToString());
        Assert.Equal(422, rejected.Json.GetProperty("error").GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Config_precedence_is_flag_then_environment_then_file_and_the_key_is_never_printed()
    {
        var home = Path.Combine(silo.DataDir, "home-" + Guid.NewGuid().ToString("N")[..6]);
        var fileKey = "ek_file" + new string('f', 40);
        var envKey = "ek_envv" + new string('e', 40);
        var flagKey = "ek_flag" + new string('g', 40);
        var configPath = Path.Combine(home, ".config", "entrupy", "config.json");
        Directory.CreateDirectory(Path.GetDirectoryName(configPath)!);
        File.WriteAllText(configPath, JsonSerializer.Serialize(new Dictionary<string, string> { ["server"] = "http://file.example:1", ["api_key"] = fileKey }));

        var fromFile = await silo.RunWithAsync(new Dictionary<string, string?>(), ["config", "show", "--json"], home);
        Assert.Equal(0, fromFile.ExitCode);
        AssertSchema(fromFile.Json, "config show", 0);
        Assert.Equal("http://file.example:1", fromFile.Json.GetProperty("server").GetString());
        Assert.Equal("config_file", fromFile.Json.GetProperty("api_key_source").GetString());

        var env = new Dictionary<string, string?> { ["ENTRUPY_SERVER"] = "http://env.example:2", ["ENTRUPY_API_KEY"] = envKey };
        var fromEnv = await silo.RunWithAsync(env, ["config", "show", "--json"], home);
        Assert.Equal("http://env.example:2", fromEnv.Json.GetProperty("server").GetString());
        Assert.Equal("environment", fromEnv.Json.GetProperty("api_key_source").GetString());

        var fromFlag = await silo.RunWithAsync(env, ["config", "show", "--server", "http://flag.example:3", "--api-key", flagKey, "--verbose"], home);
        Assert.Contains("http://flag.example:3 (flag)", fromFlag.Out);
        Assert.Contains("(flag)", fromFlag.Out);

        foreach (var run in new[] { fromFile, fromEnv, fromFlag })
        {
            foreach (var key in new[] { fileKey, envKey, flagKey }) Assert.DoesNotContain(key, run.Out + run.Err);
        }
        Assert.Contains("****", fromFlag.Out);

        // A failing call with --verbose: the diagnostics name the (unreachable) server, never the key.
        var failing = await silo.RunWithAsync(env, ["item", "show", "--item", "a1", "--verbose", "--api-key", flagKey, "--server", $"http://127.0.0.1:{FreePort()}"], home);
        Assert.Equal(ExitCodes.Unreachable, failing.ExitCode);
        Assert.Contains("debug:", failing.Err);
        Assert.DoesNotContain(flagKey, failing.Out + failing.Err);

        // config set writes the file (owner-only) and keeps the other value.
        var set = await silo.RunWithAsync(new Dictionary<string, string?>(), ["config", "set", "--server", "http://set.example:4"], home);
        Assert.Equal(0, set.ExitCode);
        var written = File.ReadAllText(configPath);
        Assert.Contains("http://set.example:4", written);
        Assert.Contains(fileKey, written);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(configPath));
    }

    [Fact]
    public async Task Guided_capture_checks_every_spot_locally_and_says_how_to_retake_a_bad_one()
    {
        var id = "cap-" + Guid.NewGuid().ToString("N")[..8];
        var flat = DevSet.WriteFlatBmp(Path.Combine(silo.DataDir, "flat.bmp"));
        var bad = await silo.RunAsync("capture", "--profile", "bag", "--item", id,
            "--image", $"leather_panel={DevSet.Gallery(22)}", "--image", $"logo={flat}", "--image", $"hardware={DevSet.Gallery(23)}", "--json");
        Assert.True(bad.ExitCode == ExitCodes.BadInput, bad.ToString());
        AssertSchema(bad.Json, "capture", ExitCodes.BadInput);
        var spots = bad.Json.GetProperty("spots").EnumerateArray().ToArray();
        Assert.Equal(["leather_panel", "logo", "hardware"], spots.Select(s => s.GetProperty("spot").GetString()));
        Assert.True(spots[0].GetProperty("passes").GetBoolean());
        Assert.False(spots[1].GetProperty("passes").GetBoolean());
        Assert.Contains("retake", spots[1].GetProperty("advice").GetString()!, StringComparison.OrdinalIgnoreCase);
        Assert.False(bad.Json.GetProperty("registered").GetBoolean());
        // Nothing reached the server.
        var missing = await silo.RunAsync("item", "show", "--item", id, "--json");
        Assert.True(missing.ExitCode == ExitCodes.NotFound || !missing.Json.GetProperty("exists").GetBoolean(), missing.ToString());

        // Missing spots without a terminal: a usage error naming them.
        var partial = await silo.RunAsync("capture", "--profile", "bag", "--item", id, "--image", $"logo={DevSet.Gallery(24)}");
        Assert.Equal(ExitCodes.BadInput, partial.ExitCode);
        Assert.Contains("leather_panel", partial.Err);

        var good = await silo.RunAsync("capture", "--profile", "bag", "--item", id,
            "--image", $"leather_panel={DevSet.Gallery(22)}", "--image", $"logo={DevSet.Gallery(24)}", "--image", $"hardware={DevSet.Gallery(23)}", "--json");
        Assert.True(good.ExitCode == 0, good.ToString());
        Assert.True(good.Json.GetProperty("registered").GetBoolean());
        Assert.Equal(3, good.Json.GetProperty("registration").GetProperty("captures").GetArrayLength());
        var item = await silo.GetItemAsync(id);
        Assert.Equal(3, item.GetProperty("current_registration").GetProperty("capture_count").GetInt32());

        var profiles = await silo.RunAsync("capture", "profiles");
        Assert.Contains("watch", profiles.Out);
        Assert.Contains("garment", profiles.Out);
    }

    [Fact]
    public async Task Guided_capture_at_a_terminal_asks_for_missing_spots_and_for_a_retake_until_it_passes()
    {
        var id = "capi-" + Guid.NewGuid().ToString("N")[..8];
        var flat = DevSet.WriteFlatBmp(Path.Combine(silo.DataDir, "flat-interactive.bmp"));
        // logo is not given: asked for, answered with a flat (rejected) capture, then retaken with a good one.
        var answers = string.Join('\n', flat, DevSet.Gallery(3)) + "\n";
        var run = await silo.RunWithAsync(new Dictionary<string, string?> { ["ENTRUPY_SERVER"] = silo.Server, ["ENTRUPY_API_KEY"] = silo.ApiKey },
            ["capture", "--profile", "bag", "--item", id, "--image", $"leather_panel={DevSet.Gallery(2)}", "--image", $"hardware={DevSet.Gallery(4)}", "--check-only"],
            stdin: answers, terminalInput: true);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("logo: The embossed or printed logo", run.Err);
        Assert.Contains("retake logo", run.Err);
        Assert.Contains("all captures pass", run.Out);
    }

    internal static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
