using Entrupy.Fingerprinting;
using Entrupy.Grains.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Entrupy.Inference;

/// <summary>Hosts the inference grains on a silo.</summary>
public static class InferenceSiloBuilderExtensions
{
    /// <summary>
    /// Adds the fingerprint extractor and authenticator grains (<see cref="Registry.Inference.IFingerprintExtractorGrain"/>,
    /// <see cref="Registry.Inference.IAuthenticatorGrain"/>) and their services: the fingerprint model and the
    /// authentication model registry (both loaded on first use, once per silo), the silo-wide fingerprint engine and
    /// capture batch queue.
    /// A <see cref="FingerprintModel"/> already registered on the silo is used as is.
    /// </summary>
    /// <param name="builder">The silo.</param>
    /// <param name="options">Batching, threading and model locations; <see cref="InferenceOptions.Default"/> when null.</param>
    public static SiloBuilder AddInferenceGrains(this SiloBuilder builder, InferenceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var resolved = options ?? InferenceOptions.Default;
        builder.ConfigureServices(services =>
        {
            services.TryAddSingleton(resolved);
            services.TryAddSingleton(_ => resolved.FingerprintModelDirectory is { } dir ? FingerprintModel.Load(dir) : FingerprintModel.LoadDefault());
            services.TryAddSingleton(_ => AuthenticationModelRegistry.Load(
                resolved.AuthenticationModelDirectory ?? AuthenticationModelRegistry.FindDefaultDirectory()));
            services.TryAddSingleton<CaptureBatchQueue>();
            services.TryAddSingleton<SharedFingerprintEngine>();
        });
        return builder.AddGrain<FingerprintExtractorGrain>().AddGrain<AuthenticatorGrain>();
    }
}
