using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Entrupy.Grains.CodeGenerator;

/// <summary>
/// For every grain interface declared in a project, emits a grain reference class (the proxy handed out by
/// <c>IGrainFactory.GetGrain</c>), one invokable class per method (the call as data, dispatched without reflection),
/// and a module initializer registering both with <c>GrainProxyRegistry</c>.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class GrainReferenceGenerator : IIncrementalGenerator
{
    private const string GrainMarker = "Entrupy.Grains.IGrain";

    private static readonly DiagnosticDescriptor UnsupportedMember = new(
        "EGR001", "Unsupported grain interface member",
        "Grain interface {0}: {1}", "Entrupy.Grains", DiagnosticSeverity.Error, isEnabledByDefault: true);

    // typeof() cannot carry nullable annotations; declarations keep them.
    private static readonly SymbolDisplayFormat TypeOfFormat = SymbolDisplayFormat.FullyQualifiedFormat;
    private static readonly SymbolDisplayFormat DeclarationFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var interfaces = context.SyntaxProvider.CreateSyntaxProvider(
                static (node, _) => node is InterfaceDeclarationSyntax { BaseList: not null },
                static (ctx, _) => ctx.SemanticModel.GetDeclaredSymbol((InterfaceDeclarationSyntax)ctx.Node) as INamedTypeSymbol)
            .Where(static s => s is not null && IsGrainInterface(s))
            .Collect();

        context.RegisterSourceOutput(interfaces, static (spc, symbols) =>
        {
            var seen = new HashSet<string>();
            foreach (var symbol in symbols)
            {
                var name = symbol!.ToDisplayString(TypeOfFormat);
                if (!seen.Add(name)) continue; // partial interfaces are declared more than once
                var source = Emit(symbol, spc);
                if (source is not null) spc.AddSource(HintName(symbol) + ".g.cs", source);
            }
        });
    }

    private static bool IsGrainInterface(INamedTypeSymbol symbol)
        => symbol.TypeKind == TypeKind.Interface && symbol.AllInterfaces.Any(i => i.ToDisplayString() == GrainMarker);

    private static bool IsMarker(INamedTypeSymbol symbol)
        => symbol.ContainingNamespace?.ToDisplayString() == "Entrupy.Grains" &&
           symbol.Name is "IGrain" or "IGrainWithStringKey" or "IGrainWithIntegerKey";

    private static string HintName(INamedTypeSymbol symbol)
    {
        var raw = symbol.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", "");
        var sb = new StringBuilder();
        foreach (var c in raw) sb.Append(char.IsLetterOrDigit(c) ? c : '_');
        return sb.ToString();
    }

    private enum ReturnKind { Task, TaskOfT, ValueTask, ValueTaskOfT }

    private sealed class MethodModel
    {
        public IMethodSymbol Method = null!;
        public INamedTypeSymbol Declaring = null!;
        public ReturnKind Kind;
        public ITypeSymbol? Result;
        public string InvokableName = "";
    }

    private static string? Emit(INamedTypeSymbol grainInterface, SourceProductionContext spc)
    {
        var location = grainInterface.Locations.FirstOrDefault();
        var display = grainInterface.ToDisplayString();
        if (grainInterface.IsGenericType)
        {
            spc.ReportDiagnostic(Diagnostic.Create(UnsupportedMember, location, display, "generic grain interfaces are not supported"));
            return null;
        }
        if (grainInterface.DeclaredAccessibility is Accessibility.Private or Accessibility.Protected)
        {
            spc.ReportDiagnostic(Diagnostic.Create(UnsupportedMember, location, display, "a grain interface must be public or internal"));
            return null;
        }

        var baseName = HintName(grainInterface);
        var declaringInterfaces = new[] { grainInterface }
            .Concat(grainInterface.AllInterfaces)
            .Where(i => !IsMarker(i) && i.AllInterfaces.Any(b => b.ToDisplayString() == GrainMarker))
            .ToList();

        var methods = new List<MethodModel>();
        var ok = true;
        foreach (var iface in declaringInterfaces)
        {
            foreach (var member in iface.GetMembers())
            {
                if (member is IMethodSymbol { MethodKind: MethodKind.Ordinary } method)
                {
                    if (method.IsStatic) continue;
                    var model = Classify(method, iface, spc, ref ok);
                    if (model is null) continue;
                    model.InvokableName = $"{baseName}_Invokable_{methods.Count}";
                    methods.Add(model);
                }
                else if (member is IPropertySymbol or IEventSymbol)
                {
                    spc.ReportDiagnostic(Diagnostic.Create(UnsupportedMember, member.Locations.FirstOrDefault() ?? location, display,
                        $"'{member.Name}': grain interfaces may only declare methods"));
                    ok = false;
                }
            }
        }
        if (!ok) return null;

        var ifaceName = grainInterface.ToDisplayString(TypeOfFormat);
        var referenceName = baseName + "_Reference";
        var sb = new StringBuilder();
        sb.AppendLine("// <auto-generated/> by Entrupy.Grains.CodeGenerator");
        sb.AppendLine("#nullable enable");
        sb.AppendLine("#pragma warning disable CS1591, CS0618");
        sb.AppendLine("namespace Entrupy.Grains.Generated");
        sb.AppendLine("{");
        sb.AppendLine($"    /// <summary>Grain reference for {Xml(display)}.</summary>");
        sb.AppendLine($"    [global::System.CodeDom.Compiler.GeneratedCode(\"Entrupy.Grains.CodeGenerator\", \"1.0\")]");
        sb.AppendLine($"    internal sealed class {referenceName} : global::Entrupy.Grains.Invocation.GrainReference, {ifaceName}");
        sb.AppendLine("    {");
        sb.AppendLine($"        public {referenceName}(global::Entrupy.Grains.Invocation.IGrainCallInvoker invoker, global::Entrupy.Grains.GrainId grainId) : base(invoker, grainId) {{ }}");
        foreach (var m in methods) EmitProxyMethod(sb, m);
        sb.AppendLine("    }");
        foreach (var m in methods) EmitInvokable(sb, m);

        sb.AppendLine($"    file static class {baseName}_Registration");
        sb.AppendLine("    {");
        sb.AppendLine("        [global::System.Runtime.CompilerServices.ModuleInitializer]");
        sb.AppendLine("        internal static void Register()");
        sb.AppendLine("        {");
        sb.AppendLine($"            global::Entrupy.Grains.Invocation.GrainProxyRegistry.Register(typeof({ifaceName}),");
        sb.AppendLine($"                static (invoker, grainId) => new {referenceName}(invoker, grainId),");
        sb.Append("                new global::Entrupy.Grains.Invocation.GrainMethodDescriptor[] { ");
        sb.Append(string.Join(", ", methods.Select(m => m.InvokableName + ".Descriptor")));
        sb.AppendLine(" });");
        sb.AppendLine("        }");
        sb.AppendLine("    }");
        sb.AppendLine("}");
        return sb.ToString();
    }

    private static MethodModel? Classify(IMethodSymbol method, INamedTypeSymbol iface, SourceProductionContext spc, ref bool ok)
    {
        var where = method.Locations.FirstOrDefault();
        var name = iface.ToDisplayString();
        void Fail(string why)
        {
            spc.ReportDiagnostic(Diagnostic.Create(UnsupportedMember, where, name, $"'{method.Name}': {why}"));
        }

        if (method.IsGenericMethod) { Fail("generic grain methods are not supported"); ok = false; return null; }
        foreach (var p in method.Parameters)
        {
            if (p.RefKind != RefKind.None) { Fail($"parameter '{p.Name}' is ref/out/in; grain arguments are passed by value"); ok = false; return null; }
        }
        var ret = method.ReturnType as INamedTypeSymbol;
        var retName = ret?.ConstructedFrom.ToDisplayString();
        var model = new MethodModel { Method = method, Declaring = iface };
        switch (retName)
        {
            case "System.Threading.Tasks.Task": model.Kind = ReturnKind.Task; break;
            case "System.Threading.Tasks.ValueTask": model.Kind = ReturnKind.ValueTask; break;
            case "System.Threading.Tasks.Task<TResult>": model.Kind = ReturnKind.TaskOfT; model.Result = ret!.TypeArguments[0]; break;
            case "System.Threading.Tasks.ValueTask<TResult>": model.Kind = ReturnKind.ValueTaskOfT; model.Result = ret!.TypeArguments[0]; break;
            default:
                Fail($"returns {method.ReturnType.ToDisplayString()}; grain methods return Task, Task<T>, ValueTask or ValueTask<T>");
                ok = false;
                return null;
        }
        return model;
    }

    private static bool IsCancellationToken(ITypeSymbol type) => type.ToDisplayString() == "System.Threading.CancellationToken";

    private static string ResultDecl(MethodModel m) => m.Result?.ToDisplayString(DeclarationFormat) ?? "global::Entrupy.Grains.Invocation.NoResult";

    private static string Identifier(string name) => SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;

    private static void EmitProxyMethod(StringBuilder sb, MethodModel m)
    {
        var parameters = string.Join(", ", m.Method.Parameters.Select(p => $"{p.Type.ToDisplayString(DeclarationFormat)} {Identifier(p.Name)}"));
        var inits = string.Join(", ", m.Method.Parameters.Select((p, i) => $"Arg{i} = {Identifier(p.Name)}"));
        var request = $"new {m.InvokableName} {{ {inits} }}";
        var call = m.Kind switch
        {
            ReturnKind.ValueTaskOfT => $"this.Invoker.InvokeAsync<{ResultDecl(m)}>(this, {request})",
            ReturnKind.TaskOfT => $"this.Invoker.InvokeAsync<{ResultDecl(m)}>(this, {request}).AsTask()",
            ReturnKind.ValueTask => $"this.Invoker.InvokeVoidAsync(this, {request})",
            _ => $"this.Invoker.InvokeVoidAsync(this, {request}).AsTask()",
        };
        sb.AppendLine($"        {m.Method.ReturnType.ToDisplayString(DeclarationFormat)} {m.Declaring.ToDisplayString(TypeOfFormat)}.{Identifier(m.Method.Name)}({parameters})");
        sb.AppendLine($"            => {call};");
    }

    private static void EmitInvokable(StringBuilder sb, MethodModel m)
    {
        var result = ResultDecl(m);
        var ifaceName = m.Declaring.ToDisplayString(TypeOfFormat);
        var wireTypes = m.Method.Parameters.Where(p => !IsCancellationToken(p.Type)).Select(p => $"typeof({p.Type.ToDisplayString(TypeOfFormat)})");
        var resultTypeOf = m.Result is null ? "typeof(global::Entrupy.Grains.Invocation.NoResult)" : $"typeof({m.Result.ToDisplayString(TypeOfFormat)})";
        var interleave = m.Method.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == "Entrupy.Grains.AlwaysInterleaveAttribute");
        var timeoutAttr = m.Method.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == "Entrupy.Grains.ResponseTimeoutAttribute");
        var timeout = timeoutAttr?.ConstructorArguments.FirstOrDefault().Value as string;
        var timeoutLiteral = timeout is null ? "null" : SymbolDisplay.FormatLiteral(timeout, quote: true);

        sb.AppendLine($"    /// <summary>Call of {Xml(m.Declaring.ToDisplayString())}.{Xml(m.Method.Name)} as data.</summary>");
        sb.AppendLine($"    [global::System.CodeDom.Compiler.GeneratedCode(\"Entrupy.Grains.CodeGenerator\", \"1.0\")]");
        sb.AppendLine($"    internal sealed class {m.InvokableName} : global::Entrupy.Grains.Invocation.GrainInvokable<{result}>");
        sb.AppendLine("    {");
        sb.AppendLine($"        internal static readonly global::Entrupy.Grains.Invocation.GrainMethodDescriptor Descriptor = new(typeof({ifaceName}), {SymbolDisplay.FormatLiteral(m.Method.Name, true)},");
        sb.AppendLine($"            new global::System.Type[] {{ {string.Join(", ", wireTypes)} }}, {resultTypeOf}, {(interleave ? "true" : "false")}, {timeoutLiteral});");
        for (var i = 0; i < m.Method.Parameters.Length; i++)
        {
            sb.AppendLine($"        public {m.Method.Parameters[i].Type.ToDisplayString(DeclarationFormat)} Arg{i} = default!;");
        }
        sb.AppendLine("        public override global::Entrupy.Grains.Invocation.GrainMethodDescriptor Method => Descriptor;");
        var ctIndex = m.Method.Parameters.ToList().FindIndex(p => IsCancellationToken(p.Type));
        if (ctIndex >= 0) sb.AppendLine($"        public override global::System.Threading.CancellationToken CancellationToken => Arg{ctIndex};");

        var args = string.Join(", ", m.Method.Parameters.Select((_, i) => $"Arg{i}"));
        var invoke = $"(({ifaceName})grain).{Identifier(m.Method.Name)}({args})";
        var body = m.Kind switch
        {
            ReturnKind.ValueTaskOfT => invoke,
            ReturnKind.TaskOfT => $"new global::System.Threading.Tasks.ValueTask<{result}>({invoke})",
            ReturnKind.ValueTask => $"FromValueTask({invoke})",
            _ => $"FromTask({invoke})",
        };
        sb.AppendLine($"        public override global::System.Threading.Tasks.ValueTask<{result}> InvokeAsync(object grain) => {body};");
        sb.AppendLine("        public override void RoundTripArguments(global::Entrupy.Grains.Invocation.IGrainArgumentSerializer serializer)");
        sb.AppendLine("        {");
        for (var i = 0; i < m.Method.Parameters.Length; i++)
        {
            if (IsCancellationToken(m.Method.Parameters[i].Type)) continue; // travels beside the message, not in it
            sb.AppendLine($"            Arg{i} = serializer.RoundTrip(Arg{i}, Descriptor);");
        }
        sb.AppendLine("        }");
        sb.AppendLine("    }");
    }

    private static string Xml(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
