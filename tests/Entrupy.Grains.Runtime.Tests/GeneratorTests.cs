using Entrupy.Grains.CodeGenerator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Entrupy.Grains.Runtime.Tests;

public sealed class GeneratorTests
{
    private static readonly MetadataReference[] References = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
        .Split(Path.PathSeparator)
        .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll")
        .Append(typeof(IGrain).Assembly.Location)
        .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
        .ToArray();

    private static (IReadOnlyList<Diagnostic> GeneratorDiagnostics, IReadOnlyList<Diagnostic> CompileErrors, string Generated) Run(string source)
    {
        var compilation = CSharpCompilation.Create("Probe", [CSharpSyntaxTree.ParseText(source)], References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var driver = CSharpGeneratorDriver.Create(new GrainReferenceGenerator())
            .RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var generated = string.Join("\n", driver.GetRunResult().GeneratedTrees.Select(t => t.ToString()));
        var errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        return (diagnostics, errors, generated);
    }

    [Fact]
    public void Valid_interface_generates_code_that_compiles()
    {
        var (diagnostics, errors, generated) = Run("""
            using System.Threading; using System.Threading.Tasks; using Entrupy.Grains;
            namespace Probe;
            public interface IOrderGrain : IGrainWithIntegerKey
            {
                Task Place(string sku, int quantity);
                Task<decimal> Total();
                ValueTask Cancel(CancellationToken ct);
                [AlwaysInterleave, ResponseTimeout("00:00:02")] ValueTask<int> Count();
            }
            """);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        Assert.Contains("class Probe_IOrderGrain_Reference", generated);
        Assert.Contains("\"00:00:02\"", generated);
        Assert.Contains("true", generated);
    }

    [Fact]
    public void Unsupported_members_are_reported_by_name()
    {
        var (diagnostics, _, _) = Run("""
            using System.Threading.Tasks; using Entrupy.Grains;
            namespace Probe;
            public interface IBadGrain : IGrainWithStringKey
            {
                int Sync();
                Task<T> Generic<T>();
                Task ByRef(ref int x);
                string Name { get; }
            }
            """);
        var messages = diagnostics.Where(d => d.Id == "EGR001").Select(d => d.GetMessage()).ToList();
        Assert.Contains(messages, m => m.Contains("'Sync'") && m.Contains("Task, Task<T>, ValueTask or ValueTask<T>"));
        Assert.Contains(messages, m => m.Contains("'Generic'") && m.Contains("generic"));
        Assert.Contains(messages, m => m.Contains("'ByRef'") && m.Contains("ref/out/in"));
        Assert.Contains(messages, m => m.Contains("'Name'") && m.Contains("only declare methods"));
    }
}
