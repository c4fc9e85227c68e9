using Entrupy.Grains.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Registry;

/// <summary>Hosts the registry grains on a silo.</summary>
public static class RegistrySiloBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="ItemGrain"/> and, when given, <paramref name="options"/>. The grains keep their state in the
    /// silo's default storage provider (e.g. <c>AddSqliteGrainStorage(path)</c>), which must be registered too.
    /// </summary>
    /// <exception cref="ArgumentException">An option is malformed.</exception>
    public static SiloBuilder AddRegistryGrains(this SiloBuilder builder, RegistryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (options is not null)
        {
            RequireHttpsBase(options.ItemUriBase, nameof(options.ItemUriBase));
            RequireHttpsBase(options.ExtensionNamespace, nameof(options.ExtensionNamespace));
            builder.ConfigureServices(s => s.AddSingleton(options));
        }

        return builder.AddGrain<ItemGrain>();
    }

    private static void RequireHttpsBase(string value, string name)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps || !value.EndsWith('/'))
            throw new ArgumentException($"RegistryOptions.{name} must be an absolute https URI ending with '/', not '{value}'.", name);
    }
}
