using System.Text;

namespace Entrupy.Registry.Index;

/// <summary>What a journal record does to a shard.</summary>
internal enum JournalOperation : byte
{
    /// <summary>Adds or replaces an item's vectors.</summary>
    Upsert = 1,

    /// <summary>Removes an item's vectors.</summary>
    Remove = 2,
}

/// <summary>
/// One change of an index shard, written once under its sequence number before the change is applied in memory.
/// Binary (a vector is 2,048 floats: 8 KB here, ~20 KB as JSON). An upsert carries the item's views, upright first;
/// format 1 records (one vector) are still read.
/// </summary>
internal sealed record JournalRecord(
    long Sequence,
    JournalOperation Operation,
    string TenantId,
    string CustomerItemId,
    int RegistrationNumber,
    string? FingerprintReference,
    float[][]? Vectors)
{
    private const byte FormatVersion = 2;
    private const byte SingleVectorFormatVersion = 1;

    /// <summary>Serializes the record.</summary>
    public byte[] ToBytes()
    {
        var vectors = Vectors ?? [];
        using var buffer = new MemoryStream(64 + vectors.Sum(v => 4 + v.Length * sizeof(float)));
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(FormatVersion);
            w.Write(Sequence);
            w.Write((byte)Operation);
            w.Write(TenantId);
            w.Write(CustomerItemId);
            w.Write(RegistrationNumber);
            w.Write(FingerprintReference is not null);
            if (FingerprintReference is not null) w.Write(FingerprintReference);
            w.Write(vectors.Length);
            foreach (var vector in vectors)
            {
                w.Write(vector.Length);
                foreach (var value in vector) w.Write(value);
            }
        }
        return buffer.ToArray();
    }

    /// <summary>Reads a record written by <see cref="ToBytes"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a journal record of this format.</exception>
    public static JournalRecord FromBytes(ReadOnlyMemory<byte> data)
    {
        try
        {
            using var stream = new MemoryStream(data.ToArray(), writable: false);
            using var r = new BinaryReader(stream, Encoding.UTF8);
            var format = r.ReadByte();
            if (format is not (FormatVersion or SingleVectorFormatVersion))
                throw new InvalidDataException($"Index journal record format {format} is not supported (this build reads {SingleVectorFormatVersion} and {FormatVersion}).");
            var sequence = r.ReadInt64();
            var operation = (JournalOperation)r.ReadByte();
            if (!Enum.IsDefined(operation)) throw new InvalidDataException($"Unknown index journal operation {(int)operation}.");
            var tenant = r.ReadString();
            var item = r.ReadString();
            var number = r.ReadInt32();
            var reference = r.ReadBoolean() ? r.ReadString() : null;
            var count = format == SingleVectorFormatVersion ? 1 : r.ReadInt32();
            if (count < 0 || count > (stream.Length - stream.Position) / sizeof(int))
                throw new InvalidDataException($"Corrupt index journal record: {count} vectors.");
            var vectors = new float[count][];
            for (var v = 0; v < count; v++)
            {
                var length = r.ReadInt32();
                if (length < 0 || length > (stream.Length - stream.Position) / sizeof(float))
                    throw new InvalidDataException($"Corrupt index journal record: vector length {length}.");
                var vector = vectors[v] = new float[length];
                for (var i = 0; i < length; i++) vector[i] = r.ReadSingle();
            }
            if (stream.Position != stream.Length) throw new InvalidDataException("Corrupt index journal record: trailing bytes.");
            return new JournalRecord(sequence, operation, tenant, item, number, reference, operation == JournalOperation.Upsert ? vectors : null);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException("Corrupt index journal record: the data ends early.", ex);
        }
    }
}
