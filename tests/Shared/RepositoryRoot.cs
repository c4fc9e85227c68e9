using System.Reflection;
using System.Runtime.CompilerServices;

namespace Entrupy.TestSupport;

/// <summary>
/// The repository root (the folder holding Entrupy.Grains.sln), wherever the test binaries were built. Linked into every
/// test project by Directory.Build.props; tests built with <c>--artifacts-path</c> outside the tree still find it.
/// </summary>
internal static class RepositoryRoot
{
    /// <summary>Environment variable that overrides the search (a checkout other than the one the tests were built from).</summary>
    public const string EnvironmentVariable = "ENTRUPY_REPO_ROOT";

    private const string SolutionFile = "Entrupy.Grains.sln";

    private static readonly Lazy<string> Root = new(Find);

    /// <summary>The root's full path.</summary>
    /// <exception cref="DirectoryNotFoundException">No candidate holds Entrupy.Grains.sln.</exception>
    public static string Path => Root.Value;

    /// <summary><see cref="Path"/> combined with <paramref name="parts"/>.</summary>
    public static string Combine(params string[] parts) => System.IO.Path.Combine([Root.Value, .. parts]);

    private static string Find()
    {
        // In order: explicit override, the root baked in at build time, then walking up from the binaries and from this source file.
        var candidates = new List<string?>
        {
            Environment.GetEnvironmentVariable(EnvironmentVariable),
            typeof(RepositoryRoot).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "RepoRoot")?.Value,
        };
        foreach (var candidate in candidates)
            if (!string.IsNullOrEmpty(candidate) && File.Exists(System.IO.Path.Combine(candidate, SolutionFile)))
                return System.IO.Path.GetFullPath(candidate);
        foreach (var start in new[] { AppContext.BaseDirectory, SourceDirectory() })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(System.IO.Path.Combine(dir.FullName, SolutionFile))) return dir.FullName;
        throw new DirectoryNotFoundException(
            $"Repository root ({SolutionFile}) not found: set {EnvironmentVariable}, or build from the repository (searched above {AppContext.BaseDirectory}).");
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => System.IO.Path.GetDirectoryName(path) ?? ".";
}
