namespace Entrupy.Registry;

/// <summary>Registry settings. Register an instance as a singleton to override the defaults.</summary>
public sealed class RegistryOptions
{
    /// <summary>The defaults, used when none is registered.</summary>
    public static RegistryOptions Default { get; } = new();

    /// <summary>
    /// Base of the https URI that names an item without its own EPC in EPCIS exports:
    /// <c>{ItemUriBase}{tenant}/{customerItemId}</c>. Must end with '/'.
    /// </summary>
    public string ItemUriBase { get; init; } = "https://id.registry.entrupy.com/items/";

    /// <summary>JSON-LD namespace of the registry's EPCIS extension fields (prefix <c>entrupy:</c>).</summary>
    public string ExtensionNamespace { get; init; } = "https://id.registry.entrupy.com/voc/";
}
