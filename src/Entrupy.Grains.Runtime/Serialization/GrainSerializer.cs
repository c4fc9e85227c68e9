using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Entrupy.Grains.Invocation;

namespace Entrupy.Grains.Runtime.Serialization;

/// <summary>
/// The grain serializer: System.Text.Json with the silo's options plus a converter that carries grain references
/// as their <see cref="GrainId"/>. Round-trips call arguments and results, and validates grain interface types.
/// </summary>
internal sealed class GrainSerializer : IGrainArgumentSerializer
{
    private readonly JsonSerializerOptions _options;
    private readonly ConcurrentDictionary<Type, string?> _verdicts = new();

    public GrainSerializer(SiloOptions siloOptions, IGrainFactory grainFactory)
    {
        _options = new JsonSerializerOptions(siloOptions.SerializerOptions);
        _options.Converters.Add(new GrainReferenceConverterFactory(grainFactory));
        _options.MakeReadOnly(populateMissingResolver: true);
    }

    public T RoundTrip<T>(T value, GrainMethodDescriptor method)
    {
        if (value is null) return value;
        // Serialized as declared, as a wire would: a subtype only survives when the declared type is polymorphic.
        try
        {
            var info = (JsonTypeInfo<T>)_options.GetTypeInfo(typeof(T));
            var bytes = JsonSerializer.SerializeToUtf8Bytes(value, info);
            return JsonSerializer.Deserialize(bytes, info)!;
        }
        catch (Exception ex) when (ex is NotSupportedException or JsonException or InvalidOperationException or ArgumentException)
        {
            throw new GrainSerializationException(typeof(T), method.DisplayName, ex.Message, ex);
        }
    }

    /// <summary>Throws <see cref="GrainSerializationException"/> unless every wire type of <paramref name="method"/> serializes.</summary>
    public void Validate(GrainMethodDescriptor method)
    {
        foreach (var type in method.ParameterTypes.Append(method.ResultType))
        {
            if (type == typeof(NoResult)) continue;
            var reason = _verdicts.GetOrAdd(type, t => Explain(t, new HashSet<Type>()));
            if (reason is not null) throw new GrainSerializationException(type, method.DisplayName, reason);
        }
    }

    /// <summary>Why <paramref name="type"/> cannot round-trip, or null when it can.</summary>
    private string? Explain(Type type, HashSet<Type> visiting)
    {
        if (!visiting.Add(type)) return null; // recursive types are fine; each type is judged once
        if (type.IsPointer || type.IsByRef || type.IsByRefLike) return "pointers and ref structs cannot be serialized";
        if (typeof(Delegate).IsAssignableFrom(type)) return "delegates cannot be serialized";
        if (typeof(Stream).IsAssignableFrom(type)) return "streams cannot cross the wire; send the bytes (byte[]) or a reference to stored data";
        if (typeof(Task).IsAssignableFrom(type) || type == typeof(ValueTask) ||
            (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ValueTask<>)))
            return "tasks cannot be serialized";
        if (type == typeof(CancellationToken)) return "a CancellationToken is only allowed as a method parameter";
        if (type == typeof(IntPtr) || type == typeof(UIntPtr) || typeof(MemberInfo).IsAssignableFrom(type) ||
            typeof(Assembly).IsAssignableFrom(type) || typeof(Module).IsAssignableFrom(type))
            return "runtime handles cannot be serialized";
        if (type.IsInterface && typeof(IGrain).IsAssignableFrom(type)) return null; // grain references travel as ids

        JsonTypeInfo info;
        try
        {
            info = _options.GetTypeInfo(type);
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            return ex.Message;
        }

        switch (info.Kind)
        {
            case JsonTypeInfoKind.Enumerable:
                return info.ElementType is null ? null : Nested(info.ElementType, "element", visiting);
            case JsonTypeInfoKind.Dictionary:
                return (info.KeyType is null ? null : Nested(info.KeyType, "key", visiting)) ??
                       (info.ElementType is null ? null : Nested(info.ElementType, "value", visiting));
            case JsonTypeInfoKind.Object:
                if ((type.IsAbstract || type.IsInterface) && info.PolymorphismOptions is null)
                    return "it is abstract or an interface without [JsonDerivedType] registrations, so it cannot be constructed when read";
                if (!type.IsAbstract && !type.IsInterface && !HasUsableConstructor(type))
                    return "it has no usable constructor (a public parameterless one, a single public one, or one marked [JsonConstructor])";
                foreach (var property in info.Properties)
                {
                    var why = Nested(property.PropertyType, $"member '{property.Name}'", visiting);
                    if (why is not null) return why;
                }
                return null;
            default:
                return null;
        }
    }

    private string? Nested(Type type, string role, HashSet<Type> visiting)
    {
        var why = Explain(type, visiting);
        return why is null ? null : $"its {role} type {type} cannot be serialized: {why}";
    }

    private static bool HasUsableConstructor(Type type)
    {
        if (type.IsValueType) return true;
        const BindingFlags any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        if (type.GetConstructors(any).Any(c => c.IsDefined(typeof(JsonConstructorAttribute)))) return true;
        var publicCtors = type.GetConstructors(BindingFlags.Instance | BindingFlags.Public);
        return publicCtors.Any(c => c.GetParameters().Length == 0) || publicCtors.Length == 1;
    }

    /// <summary>Writes grain references as <c>{"type":…,"key":…}</c> and reads them back as references.</summary>
    private sealed class GrainReferenceConverterFactory(IGrainFactory factory) : JsonConverterFactory
    {
        public override bool CanConvert(Type typeToConvert) => typeToConvert.IsInterface && typeof(IGrain).IsAssignableFrom(typeToConvert);

        public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options)
            => (JsonConverter)Activator.CreateInstance(typeof(GrainReferenceConverter<>).MakeGenericType(typeToConvert), factory)!;
    }

    private sealed class GrainReferenceConverter<TGrain>(IGrainFactory factory) : JsonConverter<TGrain> where TGrain : class, IGrain
    {
        public override TGrain? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.Null) return null;
            string? type = null, key = null;
            if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("A grain reference is an object {type, key}.");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var name = reader.GetString();
                reader.Read();
                if (name == "type") type = reader.GetString();
                else if (name == "key") key = reader.GetString();
            }
            if (type is null || key is null) throw new JsonException("A grain reference needs both type and key.");
            return (TGrain)factory.GetGrain(typeof(TGrain), new GrainId(type, key));
        }

        public override void Write(Utf8JsonWriter writer, TGrain value, JsonSerializerOptions options)
        {
            var id = value.GetGrainId();
            writer.WriteStartObject();
            writer.WriteString("type", id.Type);
            writer.WriteString("key", id.Key);
            writer.WriteEndObject();
        }
    }
}
