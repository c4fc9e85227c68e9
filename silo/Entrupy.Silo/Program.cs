using Entrupy.Silo.Health;

var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();

// Engines are probed once: a silo that cannot load one still starts, and /health says which and why.
var engines = EngineProbe.ProbeAll();
foreach (var e in engines)
{
    if (e.Loaded) app.Logger.LogInformation("engine {Name} {Version}", e.Name, e.Version);
    else app.Logger.LogError("engine {Name} failed to load: {Error}", e.Name, e.Error);
}

app.MapGet("/health", () =>
{
    var healthy = engines.All(e => e.Loaded);
    var body = new
    {
        status = healthy ? "ok" : "degraded",
        engines = engines.ToDictionary(e => e.Name, e => new { e.Loaded, e.Version, e.Error }),
    };
    return Results.Json(body, statusCode: healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
});

app.Run();

/// <summary>Entry point type, visible to in-process tests.</summary>
public partial class Program;
