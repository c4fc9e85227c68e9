namespace Entrupy.Bench;

/// <summary>One benchmark runnable as <c>bench/run NAME</c>. Implementations are found by reflection.</summary>
public interface IBenchmark
{
    /// <summary>The NAME on the command line.</summary>
    string Name { get; }

    /// <summary>One line for <c>bench/run --list</c>.</summary>
    string Description { get; }

    /// <summary>Runs and returns the figures (printed as one JSON object).</summary>
    Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context);
}

/// <summary>Shared helpers for benchmarks.</summary>
public sealed class BenchContext
{
    /// <summary>Repository root (found by walking up to Entrupy.Grains.sln).</summary>
    public string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Writes a progress line to stderr.</summary>
    public void Progress(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Entrupy.Grains.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}

/// <summary>A bad command-line option of a benchmark: <c>bench/run</c> prints it with the usage and exits 2.</summary>
public sealed class BenchOptionException(string message) : ArgumentException(message);
