namespace Entrupy.Bench.Grains;

/// <summary>
/// <c>bench/run sqlite</c>: the durable-write part of <c>bench/run grains</c> on its own — the group-commit engine
/// (<see cref="Entrupy.Persistence.Sqlite.SqliteStateStore"/>) beside one transaction per write, then grains writing
/// <c>[PersistentState]</c> through <see cref="Entrupy.Persistence.Sqlite.SqliteGrainStorage"/> on an Orleans silo.
/// </summary>
public sealed class SqliteBenchmark : IBenchmark
{
    public string Name => "sqlite";

    public string Description =>
        "SQLite durable writes/s: group-commit engine vs one transaction per write, and Orleans grains through SqliteGrainStorage " +
        "[--grains 64 --seconds 5 --baseline-seconds 3 --bytes 256]";

    public async Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context)
    {
        int grains = 64, bytes = 256;
        double seconds = 5, baselineSeconds = 3;
        for (var a = new BenchArguments(args); a.MoveNext();)
        {
            switch (a.Option)
            {
                case "--grains": grains = a.Int(); break;
                case "--seconds": seconds = a.Float(); break;
                case "--baseline-seconds": baselineSeconds = a.Float(); break;
                case "--bytes": bytes = a.Int(); break;
                default: throw a.Unknown();
            }
        }
        if (grains < 1 || seconds <= 0 || baselineSeconds <= 0) throw new BenchOptionException("--grains, --seconds and --baseline-seconds must be positive");

        var figures = await SqliteStorageBenchmark.MeasureAsync(context, grains, seconds, baselineSeconds, bytes);
        foreach (var (key, value) in await GrainStateWriteBenchmark.MeasureAsync(context, grains, seconds))
            figures[key] = value;
        return figures;
    }
}
