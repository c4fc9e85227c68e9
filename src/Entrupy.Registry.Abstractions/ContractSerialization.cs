using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Entrupy.Registry;

/// <summary>
/// How our types cross grain calls: Orleans' System.Text.Json codec for every type of ours (records, enums and state
/// classes in <c>Entrupy.*</c> assemblies), Orleans' own codecs for everything else (strings, arrays, exceptions).
/// </summary>
/// <remarks>
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

    /// <summary>Registers the JSON codec for our types on a silo's or client's serializer.</summary>
    public static IServiceCollection AddContractSerialization(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        // Orleans serializes exceptions only from namespaces it trusts; ours carry the API's validation errors.
        services.Configure<ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add("Entrupy"));
        return services.AddSerializer(serializer => serializer.AddJsonSerializer(IsContractType, JsonOptions));
    }
}
