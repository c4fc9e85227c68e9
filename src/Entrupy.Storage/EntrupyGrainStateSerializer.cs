using System.Text.Json;
using Orleans.Storage;

namespace Entrupy.Storage;

/// <summary>
/// How every provider of ours stores grain state: <see cref="BinaryRecord"/> as its raw bytes, everything else as
/// System.Text.Json (web defaults), the same format our HTTP API and our earlier runtime used, so state stays readable
/// with any JSON tool. Orleans' default state serializer (Newtonsoft.Json) would need another dependency and a
/// second set of serialization rules beside the API's.
/// </summary>
public sealed class EntrupyGrainStateSerializer : IGrainStorageSerializer
{
    /// <summary>The options state is written with.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <inheritdoc />
    public BinaryData Serialize<T>(T? input)
    {
        if (input is BinaryRecord record) return new BinaryData(record.Data);
        return new BinaryData(JsonSerializer.SerializeToUtf8Bytes(input, JsonOptions));
    }

    /// <inheritdoc />
    public T Deserialize<T>(BinaryData input)
    {
        if (typeof(T) == typeof(BinaryRecord))
        {
            // Providers hand over a buffer of their own per read: take it whole rather than copy it again.
            var bytes = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(input.ToMemory(), out var segment)
                        && segment.Offset == 0 && segment.Count == segment.Array!.Length ? segment.Array : input.ToArray();
            return (T)(object)new BinaryRecord { Data = bytes };
        }
        return JsonSerializer.Deserialize<T>(input.ToMemory().Span, JsonOptions)
               ?? throw new GrainStorageException($"Stored state of type {typeof(T).Name} is empty (JSON null).");
    }
}
