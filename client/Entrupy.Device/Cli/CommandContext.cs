using System.CommandLine;
using Entrupy.Client;
using Entrupy.Device.Configuration;
using Entrupy.Device.Output;

namespace Entrupy.Device.Cli;

/// <summary>The options every command accepts (declared once on the root, recursive).</summary>
internal sealed class GlobalOptions
{
    /// <summary><c>--server</c>.</summary>
    public Option<string?> Server { get; } = new("--server") { Description = "API base address (else ENTRUPY_SERVER, else the config file)", Recursive = true };

    /// <summary><c>--api-key</c>.</summary>
    public Option<string?> ApiKey { get; } = new("--api-key") { Description = "Tenant API key (else ENTRUPY_API_KEY, else the config file); never printed", Recursive = true };

    /// <summary><c>--config</c>.</summary>
    public Option<string?> Config { get; } = new("--config") { Description = "Config file (default ~/.config/entrupy/config.json)", Recursive = true };

    /// <summary><c>--json</c>.</summary>
    public Option<bool> Json { get; } = new("--json") { Description = "Print exactly one JSON object on stdout", Recursive = true };

    /// <summary><c>--verbose</c>.</summary>
    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Diagnostics on stderr (the API key stays masked)", Recursive = true };

    /// <summary><c>--timeout</c>.</summary>
    public Option<double> Timeout { get; } = new("--timeout")
    {
        Description = "Seconds each HTTP attempt may take",
        Recursive = true,
        DefaultValueFactory = _ => 100,
    };

    /// <summary>Adds them to the root command.</summary>
    public void AddTo(Command root)
    {
        root.Options.Add(Server);
        root.Options.Add(ApiKey);
        root.Options.Add(Config);
        root.Options.Add(Json);
        root.Options.Add(Verbose);
        root.Options.Add(Timeout);
    }
}

/// <summary>What a command's body gets: parsed values, output, settings and (lazily) the API client.</summary>
internal sealed class CommandContext : IDisposable
{
    private readonly GlobalOptions globals;
    private CliSettings? settings;
    private EntrupyClient? client;

    /// <summary>Creates the context of one invocation.</summary>
    public CommandContext(ParseResult parse, GlobalOptions globals, CliOutput output)
    {
        Parse = parse;
        this.globals = globals;
        Output = output;
    }

    /// <summary>The parse result.</summary>
    public ParseResult Parse { get; }

    /// <summary>Where results and diagnostics go.</summary>
    public CliOutput Output { get; }

    /// <summary>The host.</summary>
    public CliHost Host => Output.Host;

    /// <summary>Server and key, resolved on first use (flags &gt; environment &gt; config file).</summary>
    public CliSettings Settings
    {
        get
        {
            if (settings is not null) return settings;
            // Known before resolving, so it is scrubbed even from a resolution error.
            Output.AddSecret(Parse.GetValue(globals.ApiKey));
            Output.AddSecret(Host.GetEnvironmentVariable(CliSettings.ApiKeyVariable));
            settings = CliSettings.Resolve(Parse.GetValue(globals.Server), Parse.GetValue(globals.ApiKey), Parse.GetValue(globals.Config),
                Host.GetEnvironmentVariable, Host.HomeDirectory, Host.WorkingDirectory);
            Output.AddSecret(settings.ApiKey);
            return settings;
        }
    }

    /// <summary>The API client, created on first use.</summary>
    /// <exception cref="ConfigurationException">No server or no key is configured, or the server is not an http(s) URI.</exception>
    public EntrupyClient Client => client ??= CreateClient();

    /// <summary>Reads an option's value.</summary>
    public T? Get<T>(Option<T> option) => Parse.GetValue(option);

    /// <summary>Resolves a path from the command line.</summary>
    public string FullPath(string path) => Host.FullPath(path);

    /// <summary>Client options from the settings (used by the batch too, which tunes retries).</summary>
    public EntrupyClientOptions ClientOptions()
    {
        var s = Settings;
        if (s.Server is null)
            throw new ConfigurationException($"no server: pass --server, set {CliSettings.ServerVariable}, or put \"server\" in {s.ConfigFile}");
        if (s.ApiKey is null)
            throw new ConfigurationException($"no API key: pass --api-key, set {CliSettings.ApiKeyVariable}, or put \"api_key\" in {s.ConfigFile}");
        if (!Uri.TryCreate(s.Server.EndsWith('/') ? s.Server : s.Server + "/", UriKind.Absolute, out var baseAddress)
            || baseAddress.Scheme is not ("http" or "https"))
            throw new ConfigurationException($"server '{s.Server}' is not an http(s) address");
        var timeout = Parse.GetValue(globals.Timeout);
        if (timeout <= 0) throw new ConfigurationException("--timeout must be a positive number of seconds");
        Output.Debug($"server {baseAddress} (from {Describe(s.ServerSource)}); api key {s.MaskedApiKey} (from {Describe(s.ApiKeySource)})");
        return new EntrupyClientOptions
        {
            BaseAddress = baseAddress,
            ApiKey = s.ApiKey,
            Timeout = TimeSpan.FromSeconds(timeout),
            UserAgent = "entrupy-cli/1.0",
        };
    }

    /// <summary>How a setting source is named in output.</summary>
    public static string Describe(SettingSource source) => source switch
    {
        SettingSource.Flag => "flag",
        SettingSource.Environment => "environment",
        SettingSource.ConfigFile => "config_file",
        _ => "none",
    };

    /// <inheritdoc />
    public void Dispose() => client?.Dispose();

    private EntrupyClient CreateClient() => new(ClientOptions());
}

/// <summary>A usage mistake found after parsing (e.g. a malformed <c>spot=path</c>); exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
