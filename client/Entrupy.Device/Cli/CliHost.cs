namespace Entrupy.Device.Cli;

/// <summary>
/// What a run of the CLI talks to: its streams, environment variables and home directory. The real console by
/// default; tests and the benchmark pass their own so the CLI can run in-process.
/// </summary>
public sealed class CliHost
{
    /// <summary>Standard output: results (readable text, or exactly one JSON object with <c>--json</c>).</summary>
    public required TextWriter Out { get; init; }

    /// <summary>Standard error: diagnostics, warnings, plain progress lines.</summary>
    public required TextWriter Error { get; init; }

    /// <summary>Standard input, read by guided capture prompts.</summary>
    public TextReader In { get; init; } = TextReader.Null;

    /// <summary>True when standard output is an interactive terminal (enables the live progress bar).</summary>
    public bool OutputIsTerminal { get; init; }

    /// <summary>True when standard input is an interactive terminal (enables prompts).</summary>
    public bool InputIsTerminal { get; init; }

    /// <summary>Reads an environment variable; <see cref="Environment.GetEnvironmentVariable(string)"/> by default.</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>The user's home directory, where the default config file lives.</summary>
    public string HomeDirectory { get; init; } = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>Directory relative paths on the command line are resolved against.</summary>
    public string WorkingDirectory { get; init; } = Environment.CurrentDirectory;

    /// <summary>The process console, with terminal detection.</summary>
    public static CliHost FromConsole() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        In = Console.In,
        OutputIsTerminal = !Console.IsOutputRedirected,
        InputIsTerminal = !Console.IsInputRedirected,
    };

    /// <summary>Resolves <paramref name="path"/> against <see cref="WorkingDirectory"/>.</summary>
    public string FullPath(string path) => Path.GetFullPath(path, WorkingDirectory);
}
