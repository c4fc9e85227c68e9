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

/// <summary>
/// Walks a benchmark's options one by one (<see cref="Option"/>), reading each option's value as text or as a number;
/// a missing or malformed value is a <see cref="BenchOptionException"/> naming the option, which <c>bench/run</c>
/// prints with the usage.
/// </summary>
public sealed class BenchArguments(string[] args)
{
    private int index = -1;

    /// <summary>Moves to the next option; false after the last.</summary>
    public bool MoveNext() => ++index < args.Length;

    /// <summary>The option at hand (e.g. <c>--items</c>).</summary>
    public string Option => args[index];

    /// <summary>The option's value: the next argument.</summary>
    public string Text()
    {
        var option = Option;
        return index + 1 < args.Length ? args[++index] : throw new BenchOptionException($"{option} needs a value");
    }

    /// <summary>The option's value as a whole number.</summary>
    public int Int() => Number<int>(System.Globalization.NumberStyles.Integer, "a whole number");

    /// <summary>The option's value as a number.</summary>
    public float Float() => Number<float>(System.Globalization.NumberStyles.Float, "a number");

    private T Number<T>(System.Globalization.NumberStyles style, string what) where T : System.Numerics.INumberBase<T>
    {
        var option = Option;
        var text = Text();
        return T.TryParse(text, style, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new BenchOptionException($"{option} needs {what}, not '{text}'");
    }

    /// <summary>The option is not one this benchmark knows.</summary>
    public BenchOptionException Unknown(string? hint = null) => new($"unknown option {Option}{hint}");
}
