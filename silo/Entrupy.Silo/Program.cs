using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;
using Entrupy.Inference;
using Entrupy.Registry;
using Entrupy.Silo.Api;
using Entrupy.Silo.Authentication;
using Entrupy.Silo.Health;
using Entrupy.Silo.Hosting;
using Entrupy.Silo.Items;
using Microsoft.Extensions.DependencyInjection;

// Verbs: `eval --dataset DIR` measures the matching engine; no verb runs the silo.
if (args.Length > 0 && args[0] == "eval") return Entrupy.Silo.Commands.EvalCommand.Run(args[1..]);

var builder = WebApplication.CreateBuilder(args);

StorageSelection storage = null!;
try
{
    // Registry:ShardCount, Registry:TraceShortlist, … (docs/registry.md); validated before anything starts.
    var registryOptions = builder.Configuration.GetSection("Registry").Get<RegistryOptions>() ?? new RegistryOptions();
    try { registryOptions.Validate(); }
    catch (ArgumentException e) { throw new InvalidOperationException($"Registry: {e.Message}", e); }
    // Inference:Batching (PerCall | Coalesced), Inference:MaxBatchSize, … (docs/registry.md).
    InferenceOptions inferenceOptions;
    try { inferenceOptions = builder.Configuration.GetSection("Inference").Get<InferenceOptions>() ?? InferenceOptions.Default; }
    catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.Reflection.TargetInvocationException)
    {
        // The binder wraps a setter's range check in TargetInvocationException: report the check itself.
        var cause = e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? inner : e;
        throw new InvalidOperationException($"Inference: {cause.Message.ReplaceLineEndings(" ")}", e);
    }
    // The Orleans silo runs in this process beside the HTTP API; grain classes are found in the referenced assemblies.
    builder.UseOrleans(silo =>
    {
        silo.ConfigureSiloClustering(builder.Configuration);
        storage = silo.AddConfiguredGrainStorage(builder.Configuration);
        silo.Services.AddContractSerialization();
        silo.AddEntrupyStorageConventions();
        silo.AddRegistryGrains(registryOptions)   // with the IItemRegistry service the item endpoints use
            .AddInferenceGrains(inferenceOptions); // fingerprint extraction and authentication models
    });
}
catch (InvalidOperationException e)
{
    // A configuration mistake is the operator's to fix: say which key, and exit without a stack trace.
    Console.Error.WriteLine($"silo: configuration error: {e.Message}");
    return 2;
}
builder.Services.AddSiloApi(builder.Configuration);
builder.Services.AddAuthenticationJobs(builder.Configuration);
// Kestrel's own cap backs up the Content-Length check for chunked bodies.
builder.WebHost.ConfigureKestrel(kestrel =>
    kestrel.Limits.MaxRequestBodySize = builder.Configuration.GetValue<long?>("Limits:MaxRequestBodyBytes") ?? new LimitOptions().MaxRequestBodyBytes);

var app = builder.Build();

// Engines are probed once: a silo that cannot load one still starts, and /health says which and why.
var engines = EngineProbe.ProbeAll();
foreach (var e in engines)
{
    if (e.Loaded) app.Logger.LogInformation("engine {Name} {Version}", e.Name, e.Version);
    else app.Logger.LogError("engine {Name} failed to load: {Error}", e.Name, e.Error);
}
app.Logger.LogInformation("grain storage: {Provider} {Location}", storage.Provider, storage.Location);
app.UseSiloApi();
app.MapItemEndpoints();
app.MapAuthenticationEndpoints();

app.MapGet("/health", async (IServiceProvider services, CancellationToken ct) =>
{
    var store = await StorageProbe.ProbeAsync(services.GetRecordStore(), ct);
    var healthy = engines.All(e => e.Loaded) && store.Error is null;
    var body = new
    {
        status = healthy ? "ok" : "degraded",
        engines = engines.ToDictionary(e => e.Name, e => new { e.Loaded, e.Version, e.Error }),
        storage = new { storage.Provider, storage.Location, reachable = store.Error is null, error = store.Error, latency_ms = store.LatencyMs },
    };
    return Results.Json(body, statusCode: healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
}).AllowAnonymous().ExcludeFromDescription();

app.Run();
return 0;

/// <summary>Entry point type, visible to in-process tests.</summary>
public partial class Program;
