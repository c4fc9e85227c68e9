using Entrupy.Fingerprinting;
using Orleans.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Entrupy.Inference;

/// <summary>Hosts the inference grains on a silo.</summary>
public static class InferenceSiloBuilderExtensions
{
    /// <summary>
    /// Adds what the fingerprint extractor and authenticator grains need (Orleans finds the classes in this assembly) (<see cref="Registry.Inference.IFingerprintExtractorGrain"/>,
    /// <see cref="Registry.Inference.IAuthenticatorGrain"/>) and their services: the fingerprint model and the
    /// authentication model registry (both loaded on first use, once per silo), the silo-wide fingerprint engine and
    /// capture batch queue.
    /// A <see cref="FingerprintModel"/> already registered on the silo is used as is.
    /// </summary>
    /// <param name="builder">The silo.</param>
    /// <param name="options">Batching, threading and model locations; <see cref="InferenceOptions.Default"/> when null.</param>
    public static ISiloBuilder AddInferenceGrains(this ISiloBuilder builder, InferenceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var resolved = options ?? InferenceOptions.Default;
        var services = builder.Services;
        {
            services.TryAddSingleton(resolved);
            services.TryAddSingleton(_ => resolved.FingerprintModelDirectory is { } dir ? FingerprintModel.Load(dir) : FingerprintModel.LoadDefault());
            services.TryAddSingleton(_ => AuthenticationModelRegistry.Load(
                resolved.AuthenticationModelDirectory ?? AuthenticationModelRegistry.FindDefaultDirectory()));
            services.TryAddSingleton<CaptureBatchQueue>();
            services.TryAddSingleton<SharedFingerprintEngine>();
        }
        return builder;
    }
}
