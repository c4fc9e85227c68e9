using System.CommandLine;
using Entrupy.Device.Cli;
using Entrupy.Device.Configuration;
using Entrupy.Device.Output;

namespace Entrupy.Device.Commands;

/// <summary><c>config show</c> (key masked) and <c>config set</c> (writes the config file, owner-only).</summary>
internal static class ConfigCommands
{
    public static void AddTo(RootCommand root, CommandRunner app)
    {
        var config = new Command("config", "Show or write the CLI's configuration");
        var show = new Command("show", "Show the server and (masked) API key in effect, and where each comes from");
        app.Bind(show, "config show", (ctx, _) =>
        {
            var s = ctx.Settings;
            var result = new ConfigResult
            {
                Server = s.Server,
                ServerSource = CommandContext.Describe(s.ServerSource),
                ApiKey = s.MaskedApiKey,
                ApiKeySource = CommandContext.Describe(s.ApiKeySource),
                ConfigFile = s.ConfigFile,
                ConfigFileFound = s.ConfigFileFound,
            };
            return Task.FromResult(ctx.Output.Result(ExitCodes.Success, result, w =>
            {
                w.WriteLine($"server:      {s.Server ?? "(not set)"} ({result.ServerSource})");
                w.WriteLine($"api key:     {s.MaskedApiKey ?? "(not set)"} ({result.ApiKeySource})");
                w.WriteLine($"config file: {s.ConfigFile}{(s.ConfigFileFound ? "" : " (not found)")}");
            }));
        });
        config.Subcommands.Add(show);

        var set = new Command("set", "Write --server and/or --api-key into the config file (mode 0600); other values are kept");
        app.Bind(set, "config set", (ctx, _) =>
        {
            var s = ctx.Settings;
            var server = s.ServerSource == SettingSource.Flag ? s.Server : null;
            var key = s.ApiKeySource == SettingSource.Flag ? s.ApiKey : null;
            if (server is null && key is null) throw new UsageException("nothing to set: pass --server and/or --api-key");
            var current = File.Exists(s.ConfigFile) ? CliSettings.ReadConfigFile(s.ConfigFile) : new ConfigFileContent();
            var updated = current with { Server = server ?? current.Server, ApiKey = key ?? current.ApiKey };
            CliSettings.WriteConfigFile(s.ConfigFile, updated);
            var result = new ConfigResult
            {
                Server = updated.Server,
                ServerSource = "config_file",
                ApiKey = CliSettings.Mask(updated.ApiKey),
                ApiKeySource = "config_file",
                ConfigFile = s.ConfigFile,
                ConfigFileFound = true,
            };
            return Task.FromResult(ctx.Output.Result(ExitCodes.Success, result, w => w.WriteLine($"wrote {s.ConfigFile}")));
        });
        config.Subcommands.Add(set);
        root.Subcommands.Add(config);
    }
}
