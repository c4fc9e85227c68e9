using System.Text.Json;
using System.Text.Json.Serialization;

namespace Entrupy.Device.Configuration;

/// <summary>Where a setting's value came from, shown by <c>entrupy config show</c>.</summary>
internal enum SettingSource
{
    /// <summary>Not set anywhere.</summary>
    None,

    /// <summary>A command-line flag.</summary>
    Flag,

    /// <summary>An environment variable.</summary>
    Environment,

    /// <summary>The config file.</summary>
    ConfigFile,
}

/// <summary>The config file's content (<c>~/.config/entrupy/config.json</c>).</summary>
internal sealed record ConfigFileContent
{
    /// <summary>Base address of the API, e.g. <c>https://registry.example.com</c>.</summary>
    [JsonPropertyName("server")] public string? Server { get; init; }

    /// <summary>The tenant API key.</summary>
    [JsonPropertyName("api_key")] public string? ApiKey { get; init; }
}

/// <summary>
/// Server address and API key resolved with precedence flags &gt; environment (<c>ENTRUPY_SERVER</c>,
/// <c>ENTRUPY_API_KEY</c>) &gt; config file. The key is only ever shown masked (<see cref="Mask"/>).
/// </summary>
internal sealed record CliSettings
{
    /// <summary>Environment variable holding the server address.</summary>
    public const string ServerVariable = "ENTRUPY_SERVER";

    /// <summary>Environment variable holding the API key.</summary>
    public const string ApiKeyVariable = "ENTRUPY_API_KEY";

    /// <summary>Environment variable naming the config file (overridden by <c>--config</c>).</summary>
    public const string ConfigVariable = "ENTRUPY_CONFIG";

    /// <summary>The server's base address, or null when nothing sets it.</summary>
    public string? Server { get; init; }

    /// <summary>Where <see cref="Server"/> came from.</summary>
    public SettingSource ServerSource { get; init; }

    /// <summary>The API key, or null when nothing sets it. Never print it: use <see cref="MaskedApiKey"/>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Where <see cref="ApiKey"/> came from.</summary>
    public SettingSource ApiKeySource { get; init; }

    /// <summary>The config file consulted (whether or not it exists).</summary>
    public string ConfigFile { get; init; } = "";

    /// <summary>True when <see cref="ConfigFile"/> exists and was read.</summary>
    public bool ConfigFileFound { get; init; }

    /// <summary>The key as it may be shown.</summary>
    public string? MaskedApiKey => Mask(ApiKey);

    /// <summary>
    /// Resolves the settings. A config file given explicitly (<c>--config</c> or <c>ENTRUPY_CONFIG</c>) must exist;
    /// the default one is optional.
    /// </summary>
    /// <exception cref="ConfigurationException">The config file is missing (when explicit) or not valid JSON.</exception>
    public static CliSettings Resolve(string? serverFlag, string? apiKeyFlag, string? configFlag, Func<string, string?> environment, string homeDirectory, string workingDirectory)
    {
        var explicitConfig = NonEmpty(configFlag) ?? NonEmpty(environment(ConfigVariable));
        var configPath = explicitConfig is not null
            ? Path.GetFullPath(explicitConfig, workingDirectory)
            : DefaultConfigPath(environment, homeDirectory);
        ConfigFileContent? file = null;
        if (File.Exists(configPath)) file = ReadConfigFile(configPath);
        else if (explicitConfig is not null) throw new ConfigurationException($"config file not found: {configPath}");

        var (server, serverSource) = Pick(serverFlag, environment(ServerVariable), file?.Server);
        var (key, keySource) = Pick(apiKeyFlag, environment(ApiKeyVariable), file?.ApiKey);
        return new CliSettings
        {
            Server = server?.TrimEnd('/'),
            ServerSource = serverSource,
            ApiKey = key,
            ApiKeySource = keySource,
            ConfigFile = configPath,
            ConfigFileFound = file is not null,
        };
    }

    /// <summary><c>$XDG_CONFIG_HOME/entrupy/config.json</c>, else <c>~/.config/entrupy/config.json</c>.</summary>
    public static string DefaultConfigPath(Func<string, string?> environment, string homeDirectory)
    {
        var xdg = NonEmpty(environment("XDG_CONFIG_HOME"));
        return Path.Combine(xdg ?? Path.Combine(homeDirectory, ".config"), "entrupy", "config.json");
    }

    /// <summary>Shows enough of a key to recognise it (its first characters), never enough to use it.</summary>
    public static string? Mask(string? key)
    {
        if (key is null) return null;
        // Tenant keys are "ek_" + 43 random characters: 3 of them identify a key without weakening it.
        var shown = key.Length >= 16 ? 6 : 0;
        return key[..shown] + "****";
    }

    /// <summary>Writes a config file readable by its owner only (it holds the key).</summary>
    public static void WriteConfigFile(string path, ConfigFileContent content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var json = JsonSerializer.Serialize(content, new JsonSerializerOptions { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull });
        var temp = path + ".tmp";
        File.WriteAllText(temp, json + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Reads a config file.</summary>
    /// <exception cref="ConfigurationException">It is not valid JSON of the expected shape.</exception>
    public static ConfigFileContent ReadConfigFile(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ConfigFileContent>(File.ReadAllText(path)) ?? new ConfigFileContent();
        }
        catch (JsonException e)
        {
            // JsonException messages quote positions, not values, so the key cannot leak through them.
            throw new ConfigurationException($"config file {path} is not valid JSON ({e.Message}); expected {{\"server\": \"…\", \"api_key\": \"…\"}}");
        }
    }

    private static (string? Value, SettingSource Source) Pick(string? flag, string? environment, string? file) =>
        NonEmpty(flag) is { } f ? (f, SettingSource.Flag)
        : NonEmpty(environment) is { } e ? (e, SettingSource.Environment)
        : NonEmpty(file) is { } c ? (c, SettingSource.ConfigFile)
        : (null, SettingSource.None);

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}

/// <summary>The CLI's configuration (flags, environment, config file) is unusable; exit code 2.</summary>
internal sealed class ConfigurationException(string message) : Exception(message);
