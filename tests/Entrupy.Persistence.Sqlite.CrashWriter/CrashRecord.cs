using System.Globalization;
using System.Security.Cryptography;
using System.Text;

using Orleans.Runtime;

namespace Entrupy.Persistence.Sqlite.CrashWriter;

/// <summary>
/// The self-checking values the crash writer stores: <c>key|sequence|payloadLength|payload|sha256</c>, where the hash
/// covers everything before it. A torn or mixed write cannot pass <see cref="TryDecode"/>. Stored as a
/// <see cref="Entrupy.Storage.BinaryRecord"/>, so the file holds exactly these bytes.
/// </summary>
public static class CrashRecord
{
    /// <summary>Grain type of every crash-test record.</summary>
    public const string GrainType = "crash";

    /// <summary>State name of every crash-test record.</summary>
    public const string StateName = "s";

    /// <summary>The grain key of writer <paramref name="index"/>.</summary>
    public static string Key(int index) => "k" + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>The grain writer <paramref name="grainKey"/> writes as.</summary>
    public static GrainId Grain(string grainKey) => GrainId.Create(GrainType, grainKey);

    /// <summary>Builds the value for (key, sequence); the payload length (64 B to 16 KiB) and bytes depend on both.</summary>
    public static byte[] Encode(string grainKey, long sequence)
    {
        var random = new Random(HashCode.Combine(grainKey, sequence));
        var payload = new byte[random.Next(64, 16 * 1024)];
        random.NextBytes(payload);
        var header = Encoding.UTF8.GetBytes(FormattableString.Invariant($"{grainKey}|{sequence}|{payload.Length}|"));
        var body = new byte[header.Length + payload.Length];
        header.CopyTo(body, 0);
        payload.CopyTo(body, header.Length);
        var hash = Encoding.ASCII.GetBytes("|" + Convert.ToHexString(SHA256.HashData(body)));
        return [.. body, .. hash];
    }

    /// <summary>Parses and verifies a stored value; false when it is malformed or its hash does not match.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> value, out string grainKey, out long sequence)
    {
        grainKey = "";
        sequence = -1;
        const int hashLength = 1 + 64;
        if (value.Length < hashLength) return false;
        var body = value[..^hashLength];
        var hash = Encoding.ASCII.GetString(value[^hashLength..]);
        if (hash != "|" + Convert.ToHexString(SHA256.HashData(body))) return false;

        // The header is ASCII text followed by the binary payload: split off the first three fields.
        var fields = new string[3];
        var position = 0;
        for (var i = 0; i < 3; i++)
        {
            var separator = body[position..].IndexOf((byte)'|');
            if (separator < 0) return false;
            fields[i] = Encoding.UTF8.GetString(body.Slice(position, separator));
            position += separator + 1;
        }

        if (!long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out sequence)) return false;
        if (!int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var payloadLength)) return false;
        grainKey = fields[0];
        return body.Length - position == payloadLength;
    }
}
