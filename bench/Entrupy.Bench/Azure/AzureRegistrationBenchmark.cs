using System.Globalization;
using Entrupy.Bench.Registry;

namespace Entrupy.Bench.Azure;

/// <summary>
/// <c>bench/run azure</c>: registrations/s through HTTP on one silo process with Azure Blob storage (Azurite), beside
/// the same silo on SQLite, in the same run: same captures, same item ids, same concurrency, fresh store each.
/// </summary>
public sealed class AzureRegistrationBenchmark : IBenchmark
{
    public string Name => "azure";

    public string Description =>
        "HTTP registrations/s on one silo: Azure Blob provider on Azurite beside SQLite, same captures and concurrency " +
        "[--items 60 --concurrency 4 --seed 12 --max-side 512 --connection-string CS (default: own azurite/start.sh) --dataset DIR --silo-dll PATH]";

    public async Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        var o = Options.Parse(args);
        var siloDll = SiloUnderTest.FindSiloDll(context, o.SiloDll);
        var set = await CaptureSet.LoadOrCreateAsync(context, o.Items, o.Seed, o.MaxSide, o.Dataset);
        var figures = new Dictionary<string, object?>
        {
            ["items"] = o.Items,
            ["concurrency"] = o.Concurrency,
            ["captures"] = $"make_dataset.py --items {o.Items} --probes-per-item 1 --seed {o.Seed} --max-size {o.MaxSide}",
        };

        var data = Directory.CreateTempSubdirectory("entrupy-azure-registration-bench-");
        try
        {
            await using (var azure = await AzuriteTarget.StartAsync(context, o.ConnectionString, Path.Combine(data.FullName, "azurite")))
            {
                figures["azure_target"] = azure.Description;
                var container = "bench-" + Guid.NewGuid().ToString("N")[..12];
                Add(figures, "azure", await MeasureAsync(context, siloDll, set, o,
                    ["--Storage:Provider=azure", $"--Storage:Azure:ConnectionString={azure.ConnectionString}", $"--Storage:Azure:Container={container}"]));
            }

            Add(figures, "sqlite", await MeasureAsync(context, siloDll, set, o,
                ["--Storage:Provider=sqlite", $"--Storage:Sqlite:Path={Path.Combine(data.FullName, "sqlite", "registry.db")}"]));
            figures["ratio_azure_over_sqlite"] = Math.Round((double)figures["azure_registrations_per_s"]! / (double)figures["sqlite_registrations_per_s"]!, 3);
        }
        finally
        {
            data.Delete(recursive: true);
        }

        return figures;
    }

    private static async Task<RegistryLoad.RegistrationRun> MeasureAsync(BenchContext context, string siloDll, CaptureSet set, Options o, string[] storage)
    {
        var provider = storage[0].Split('=')[1];
        await using var silo = await SiloUnderTest.StartAsync(siloDll, storage, TimeSpan.FromSeconds(120));
        await silo.CreateTenantAsync("bench-" + provider);
        // Warm-up registrations (JIT, ORT sessions, connections, containers) are stored but not timed.
        var warmup = Math.Min(o.Items / 5, o.Concurrency * 2);
        var warm = await RegistryLoad.RegisterAsync(silo.Tenant, set, 0, warmup, o.Concurrency, "warm");
        if (warm.Failed > 0) throw new InvalidOperationException($"{provider}: warm-up registration failed: {warm.FirstError}\n{silo.RecentLog}");
        context.Progress($"{provider}: registering {o.Items - warmup} items, {o.Concurrency} concurrent callers");
        var run = await RegistryLoad.RegisterAsync(silo.Tenant, set, warmup, o.Items, o.Concurrency, "bench");
        if (run.FirstError is not null) context.Progress($"{provider}: {run.Failed} failed; first: {run.FirstError}");
        context.Progress($"{provider}: {run.PerSecond:0.0} registrations/s (p50 {run.Latency.P50} ms, p99 {run.Latency.P99} ms)");
        return run;
    }

    private static void Add(Dictionary<string, object?> figures, string prefix, RegistryLoad.RegistrationRun run)
    {
        figures[$"{prefix}_registrations_per_s"] = Math.Round(run.PerSecond, 2);
        figures[$"{prefix}_registered"] = run.Registered;
        figures[$"{prefix}_failed"] = run.Failed;
        run.Latency.AddTo(figures, $"{prefix}_latency");
    }

    private sealed record Options(int Items, int Concurrency, int Seed, int MaxSide, string? ConnectionString, string? Dataset, string? SiloDll)
    {
        public static Options Parse(string[] args)
        {
            var o = new Options(60, 4, 12, 512, Environment.GetEnvironmentVariable("AZURE_STORAGE_CONNECTION_STRING"), null, null);
            for (var a = new BenchArguments(args); a.MoveNext();)
            {
                o = a.Option switch
                {
                    "--items" => o with { Items = a.Int() },
                    "--concurrency" => o with { Concurrency = a.Int() },
                    "--seed" => o with { Seed = a.Int() },
                    "--max-side" => o with { MaxSide = a.Int() },
                    "--connection-string" => o with { ConnectionString = a.Text() },
                    "--dataset" => o with { Dataset = a.Text() },
                    "--silo-dll" => o with { SiloDll = a.Text() },
                    _ => throw a.Unknown(),
                };
            }
            if (o.Items < 10) throw new BenchOptionException("--items must be at least 10");
            return o;
        }
    }
}
