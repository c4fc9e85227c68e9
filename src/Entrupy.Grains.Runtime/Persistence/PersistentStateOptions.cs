using System.Text.Json;

namespace Entrupy.Grains.Runtime.Persistence;

/// <summary>How <see cref="Entrupy.Grains.Persistence.IPersistentState{TState}"/> turns state into stored bytes.</summary>
public sealed class PersistentStateOptions
{
    /// <summary>
    /// The System.Text.Json options used for every state type. Default: <see cref="JsonSerializerDefaults.Web"/>
    /// (camelCase property names, case-insensitive reads, numbers may be read from strings), UTF-8 JSON without indentation.
    /// Changing property naming after data was written makes old records read as default values, so pick once.
    /// </summary>
    public JsonSerializerOptions SerializerOptions { get; set; } = new(JsonSerializerDefaults.Web);
}
