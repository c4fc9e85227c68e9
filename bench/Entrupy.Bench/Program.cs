using System.Reflection;
using System.Text.Json;
using Entrupy.Bench;

// bench/run NAME [options]: progress goes to stderr, the figures as one JSON object on the last stdout line.
var benchmarks = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name, StringComparer.Ordinal)
    .ToList();

if (args.Length == 0 || args[0] is "--list" or "-h" or "--help")
{
    Console.Error.WriteLine("usage: bench/run NAME [options]");
    foreach (var b in benchmarks) Console.Error.WriteLine($"  {b.Name,-10} {b.Description}");
    return args.Length == 0 ? 2 : 0;
}

var bench = benchmarks.FirstOrDefault(b => b.Name == args[0]);
if (bench is null)
{
    Console.Error.WriteLine($"unknown benchmark '{args[0]}'; known: {string.Join(", ", benchmarks.Select(b => b.Name))}");
    return 2;
}

// The machine is shared: the load when the run started and ended says how much the figures can be trusted.
var loadAtStart = LoadAverage();
Dictionary<string, object?> figures;
try
{
    figures = await bench.RunAsync(args[1..], new BenchContext());
}
catch (BenchOptionException e)
{
    // A bad option is the caller's to fix: say which and how to call, without a stack trace.
    Console.Error.WriteLine($"bench {bench.Name}: {e.Message}\nusage: bench/run {bench.Name} {bench.Description}");
    return 2;
}
figures["benchmark"] = bench.Name;
figures["machine"] = new
{
    cores = Environment.ProcessorCount, os = Environment.OSVersion.VersionString, dotnet = Environment.Version.ToString(),
    load_average_1min_at_start = loadAtStart, load_average_1min_at_end = LoadAverage(),
};
Console.WriteLine(JsonSerializer.Serialize(figures));
return 0;

static double? LoadAverage() =>
    File.Exists("/proc/loadavg") && double.TryParse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var load)
        ? load
        : null;
