using System.Globalization;

namespace Entrupy.Grains;

/// <summary>Identifies a grain: its stable grain type name and its key. This is all a grain reference carries.</summary>
/// <param name="Type">Stable grain type name (see <see cref="GrainTypeAttribute"/>), not a CLR type name.</param>
/// <param name="Key">The key as a string (integer keys use invariant decimal formatting).</param>
public readonly record struct GrainId(string Type, string Key)
{
    /// <summary>Creates the id of an integer-keyed grain.</summary>
    public static GrainId FromInteger(string type, long key) => new(type, key.ToString(CultureInfo.InvariantCulture));

    /// <summary>The key as an integer; throws <see cref="FormatException"/> for a string-keyed grain.</summary>
    public long GetIntegerKey() => long.Parse(Key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override string ToString() => $"{Type}/{Key}";
}
