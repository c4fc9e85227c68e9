using System.CommandLine;
using Entrupy.Client;
using Entrupy.Device.Batch;
using Entrupy.Device.Commands;
using Entrupy.Device.Configuration;
using Entrupy.Device.Output;

namespace Entrupy.Device.Cli;

/// <summary>
/// The <c>entrupy</c> command line: builds the command tree, runs one invocation and maps every failure to a
/// documented exit code (<see cref="ExitCodes"/>). Runs in-process against any <see cref="CliHost"/>.
/// </summary>
public static class EntrupyCli
{
    /// <summary>Runs the CLI with <paramref name="args"/> and returns the exit code.</summary>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="host">Streams, environment and home directory to use.</param>
    /// <param name="cancellationToken">Interrupts the command (Ctrl+C); a batch stops cleanly and can be resumed.</param>
    public static async Task<int> RunAsync(string[] args, CliHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(host);
        var globals = new GlobalOptions();
        var root = BuildRoot(globals, host);
        var invocation = new InvocationConfiguration { Output = host.Out, Error = host.Error, EnableDefaultExceptionHandler = false };
        if (args.Length == 0)
        {
            // No command at all: show what there is, as a usage error.
            await root.Parse(["--help"]).InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
            return ExitCodes.BadInput;
        }
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // Usage errors are bad input (2), and with --json still one JSON object.
            var output = new CliOutput(host, CommandName(parse), parse.GetValue(globals.Json), verbose: false);
            var message = string.Join("; ", parse.Errors.Select(e => e.Message));
            output.Fail(ExitCodes.BadInput, message + " (see --help)");
            return ExitCodes.BadInput;
        }
        return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
    }

    private static RootCommand BuildRoot(GlobalOptions globals, CliHost host)
    {
        var root = new RootCommand("entrupy: register, compare, trace and track physical items by their surface fingerprint.");
        globals.AddTo(root);
        var app = new CommandRunner(globals, host);
        ItemCommands.AddTo(root, app);
        BatchCommands.AddTo(root, app);
        CaptureCommand.AddTo(root, app);
        ConfigCommands.AddTo(root, app);
        return root;
    }

    private static string CommandName(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null && r.Command is not RootCommand; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command.Name);
        return names.Count == 0 ? "entrupy" : string.Join(' ', names);
    }
}

/// <summary>Runs a command body with the shared context and the exception → exit code mapping.</summary>
internal sealed class CommandRunner(GlobalOptions globals, CliHost host)
{
    /// <summary>The host.</summary>
    public CliHost Host => host;

    /// <summary>Sets <paramref name="command"/>'s action to run <paramref name="body"/> as <paramref name="name"/>.</summary>
    public void Bind(Command command, string name, Func<CommandContext, CancellationToken, Task<int>> body) =>
        command.SetAction((parse, ct) => RunAsync(parse, name, body, ct));

    private async Task<int> RunAsync(ParseResult parse, string name, Func<CommandContext, CancellationToken, Task<int>> body, CancellationToken ct)
    {
        var output = new CliOutput(host, name, parse.GetValue(globals.Json), parse.GetValue(globals.Verbose));
        using var context = new CommandContext(parse, globals, output);
        try
        {
            return await body(context, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return output.Fail(ExitCodes.Interrupted, "interrupted");
        }
        catch (Exception e)
        {
            var (code, message, problem) = Classify(e);
            output.Debug(e.GetType().FullName + ": " + e.Message);
            return output.Fail(code, message, problem);
        }
    }

    /// <summary>Maps an exception to its exit code, message and the server's problem (if any).</summary>
    public static (int Code, string Message, ProblemInfo? Problem) Classify(Exception e) => e switch
    {
        EntrupyApiException api => (ForStatus(api.Status), DescribeApiError(api), new ProblemInfo(api.Status, api.Type, api.Title, api.Detail)),
        EntrupyUnreachableException u => (ExitCodes.Unreachable,
            $"cannot reach the server at {u.BaseAddress} ({(u.TimedOut ? "timed out" : u.InnerException?.Message ?? "no answer")}; {u.Attempts} attempt(s))", null),
        HttpRequestException h => (ExitCodes.Unreachable, $"cannot reach the server: {h.Message}", null),
        TimeoutException t => (ExitCodes.Unreachable, $"the server did not answer in time: {t.Message}", null),
        ConfigurationException or UsageException or JournalMismatchException => (ExitCodes.BadInput, e.Message, null),
        FileNotFoundException f => (ExitCodes.BadInput, $"file not found: {f.FileName ?? f.Message}", null),
        DirectoryNotFoundException or IOException or UnauthorizedAccessException or InvalidDataException => (ExitCodes.BadInput, e.Message, null),
        ArgumentException a => (ExitCodes.BadInput, a.Message, null),
        _ => (ExitCodes.ServerError, $"unexpected error: {e.GetType().Name}: {e.Message}", null),
    };

    /// <summary>Exit code for an HTTP error status.</summary>
    public static int ForStatus(int status) => status switch
    {
        401 or 403 => ExitCodes.AuthError,
        404 => ExitCodes.NotFound,
        429 => ExitCodes.ServerError,
        >= 400 and < 500 => ExitCodes.BadInput,
        _ => ExitCodes.ServerError,
    };

    private static string DescribeApiError(EntrupyApiException e)
    {
        var what = e.Status switch
        {
            401 => "the API key was refused",
            403 => "the API key may not do this",
            _ => e.Title,
        };
        var text = $"{what} ({e.Status} {e.Kind})";
        if (e.Detail is { Length: > 0 } d) text += ": " + d;
        if (e.RetryAfter is { } r) text += $" (retry after {r.TotalSeconds:0}s)";
        return text;
    }
}
