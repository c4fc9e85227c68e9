using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Entrupy.Device.Cli;

namespace Entrupy.Device.Output;

/// <summary>
/// Writes a command's outcome: readable text by default, or with <c>--json</c> exactly one JSON object on stdout
/// (<c>command</c>, <c>ok</c>, <c>exit_code</c>, the command's fields, and <c>error</c> on failure). Diagnostics go to
/// stderr. Every string written passes through <see cref="Scrub"/>, so the API key never reaches either stream.
/// </summary>
internal sealed class CliOutput
{
    /// <summary>JSON settings of <c>--json</c> output: snake_case, nulls written (fields never disappear), one line.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        WriteIndented = false,
        // Paths and messages stay readable (no \u0027 for quotes); the output is not embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly CliHost host;
    private readonly List<string> secrets = [];
    private bool resultWritten;

    /// <summary>Creates the output of one command run.</summary>
    public CliOutput(CliHost host, string command, bool json, bool verbose)
    {
        this.host = host;
        Command = command;
        Json = json;
        Verbose = verbose;
    }

    /// <summary>The command's name as shown in JSON (<c>register</c>, <c>custody add</c>, …).</summary>
    public string Command { get; }

    /// <summary>True with <c>--json</c>.</summary>
    public bool Json { get; }

    /// <summary>True with <c>--verbose</c>.</summary>
    public bool Verbose { get; }

    /// <summary>The host's streams.</summary>
    public CliHost Host => host;

    /// <summary>Adds a value that must never be printed (the API key).</summary>
    public void AddSecret(string? secret)
    {
        if (!string.IsNullOrEmpty(secret) && secret.Length >= 4) secrets.Add(secret);
    }

    /// <summary>Replaces every secret in <paramref name="text"/> with <c>****</c>.</summary>
    public string Scrub(string text)
    {
        foreach (var s in secrets) text = text.Replace(s, "****", StringComparison.Ordinal);
        return text;
    }

    /// <summary>A diagnostic line on stderr.</summary>
    public void Info(string message) => host.Error.WriteLine(Scrub(message));

    /// <summary>A diagnostic line on stderr, only with <c>--verbose</c>.</summary>
    public void Debug(string message)
    {
        if (Verbose) host.Error.WriteLine(Scrub("debug: " + message));
    }

    /// <summary>Writes the command's successful (or no-match) result and returns <paramref name="exitCode"/>.</summary>
    /// <param name="exitCode">The exit code (0, or 1 for no match, 7 for a batch with failures).</param>
    /// <param name="payload">The command's JSON fields (a record serialised with <see cref="JsonOptions"/>).</param>
    /// <param name="human">Writes the readable form.</param>
    public int Result(int exitCode, object payload, Action<TextWriter> human)
    {
        if (Json)
        {
            var body = Envelope(exitCode);
            foreach (var (name, value) in (JsonObject)JsonSerializer.SerializeToNode(payload, payload.GetType(), JsonOptions)!)
                body[name] = value?.DeepClone();
            body["error"] = null;
            WriteJson(body);
        }
        else
        {
            using var text = new StringWriter();
            human(text);
            host.Out.Write(Scrub(text.ToString()));
            host.Out.Flush();
        }
        return exitCode;
    }

    /// <summary>Writes an error (stderr; plus the JSON object with <c>--json</c>) and returns <paramref name="exitCode"/>.</summary>
    public int Fail(int exitCode, string message, ProblemInfo? problem = null, object? partial = null)
    {
        host.Error.WriteLine(Scrub($"{(Command == "entrupy" ? "entrupy" : "entrupy " + Command)}: {message}"));
        if (problem?.Detail is { } detail && !message.Contains(detail, StringComparison.Ordinal)) host.Error.WriteLine(Scrub("  " + detail));
        if (Json && !resultWritten)
        {
            var body = Envelope(exitCode);
            if (partial is not null)
            {
                foreach (var (name, value) in (JsonObject)JsonSerializer.SerializeToNode(partial, partial.GetType(), JsonOptions)!)
                    body[name] = value?.DeepClone();
            }
            body["error"] = JsonSerializer.SerializeToNode(new ErrorInfo
            {
                Kind = ExitCodes.KindOf(exitCode),
                Message = Scrub(message),
                Status = problem?.Status,
                Type = problem?.Type,
                Title = problem?.Title is { } t ? Scrub(t) : null,
                Detail = problem?.Detail is { } d ? Scrub(d) : null,
            }, JsonOptions);
            WriteJson(body);
        }
        return exitCode;
    }

    private JsonObject Envelope(int exitCode) => new()
    {
        ["command"] = Command,
        ["ok"] = exitCode is ExitCodes.Success or ExitCodes.NoMatch,
        ["exit_code"] = exitCode,
    };

    private void WriteJson(JsonObject body)
    {
        resultWritten = true;
        host.Out.WriteLine(Scrub(body.ToJsonString(JsonOptions)));
        host.Out.Flush();
    }
}

/// <summary>The API's problem details of a failed call, as shown to the user.</summary>
/// <param name="Status">HTTP status.</param>
/// <param name="Type">Problem type URI.</param>
/// <param name="Title">Problem title.</param>
/// <param name="Detail">Problem detail.</param>
internal sealed record ProblemInfo(int? Status, string? Type, string? Title, string? Detail);

/// <summary>The <c>error</c> object of <c>--json</c> output.</summary>
internal sealed record ErrorInfo
{
    /// <summary>Kind named after the exit code: bad_input, unreachable, server_error, auth, not_found, …</summary>
    public string Kind { get; init; } = "";

    /// <summary>What went wrong, for humans.</summary>
    public string Message { get; init; } = "";

    /// <summary>HTTP status when the server answered.</summary>
    public int? Status { get; init; }

    /// <summary>Problem type URI when the server answered with a problem.</summary>
    public string? Type { get; init; }

    /// <summary>Problem title.</summary>
    public string? Title { get; init; }

    /// <summary>Problem detail.</summary>
    public string? Detail { get; init; }
}
