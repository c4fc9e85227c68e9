using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Cloning;

namespace Entrupy.Registry;

/// <summary>
/// How our types cross grain calls: Orleans' System.Text.Json codec for every type of ours (records, enums and state
/// classes in <c>Entrupy.*</c> assemblies), Orleans' own codecs for everything else (strings, arrays, exceptions).
/// </summary>
/// <remarks>
/// Within a silo Orleans copies every argument and result; for our types that copy would be a JSON round trip (about
/// 1 ms for an 80 KB extraction result). Our records are immutable by convention — init-only properties, and no grain
/// or endpoint changes an array or collection it passed or received (grains copy what they keep) — so they are passed
/// by reference, as Orleans does for <c>[Immutable]</c> types; JSON is used only when a call leaves the process.
/// Why JSON rather than <c>[GenerateSerializer]</c> on each type: the same records are the HTTP API's wire DTOs, which
/// clients reference without Orleans (Entrupy.Api.Contracts has no Orleans dependency), so they cannot carry Orleans
/// attributes; JSON keeps one set of rules for the API, grain calls and stored state. Versioning follows
/// System.Text.Json's rules: adding an optional member is safe, renaming one is not. The cost is measured in
/// <c>bench/run grains</c> (docs/benchmarks.md). Exceptions are left to Orleans' exception codec.
/// </remarks>
public static class ContractSerialization
{
    /// <summary>The options our types are written with between grains (fields included, so tuples round-trip).</summary>
    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.General) { IncludeFields = true };

    /// <summary>Whether a type is ours and goes through the JSON codec.</summary>
    public static bool IsContractType(Type type) =>
        type.Assembly.GetName().Name is { } name && name.StartsWith("Entrupy.", StringComparison.Ordinal)
        && !typeof(Exception).IsAssignableFrom(type)
        && !typeof(Orleans.Runtime.IAddressable).IsAssignableFrom(type)
        && !type.IsDefined(typeof(GenerateSerializerAttribute), inherit: false);

    /// <summary>Registers the JSON codec for our types on a silo's or client's serializer, and their by-reference copier.</summary>
    public static IServiceCollection AddContractSerialization(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton<IGeneralizedCopier, ContractCopier>();
        // Orleans serializes exceptions only from namespaces it trusts; ours carry the API's validation errors.
        services.Configure<ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add("Entrupy"));
        return services.AddSerializer(serializer => serializer.AddJsonSerializer(IsContractType, isCopyable: _ => false,
            options => options.Configure(o => o.SerializerOptions = JsonOptions)));
    }

    /// <summary>Passes our immutable-by-convention records by reference within a silo (see the remarks above).</summary>
    private sealed class ContractCopier : IGeneralizedCopier, IOptionalDeepCopier
    {
        public bool IsSupportedType(Type type) => IsContractType(type);

        public object? DeepCopy(object? input, CopyContext context) => input;

        public bool IsShallowCopyable() => true;
    }
}
