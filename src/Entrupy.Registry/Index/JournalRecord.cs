using System.Text;

namespace Entrupy.Registry.Index;

/// <summary>What a journal record does to a shard.</summary>
internal enum JournalOperation : byte
{
    /// <summary>Adds or replaces an item's vector.</summary>
    Upsert = 1,

    /// <summary>Removes an item's vector.</summary>
    Remove = 2,
}

/// <summary>
/// One change of an index shard, written once under its sequence number before the change is applied in memory.
/// Binary (a vector is 2,048 floats: 8 KB here, ~20 KB as JSON).
/// </summary>
internal sealed record JournalRecord(
    long Sequence,
    JournalOperation Operation,
    string TenantId,
    string CustomerItemId,
    int RegistrationNumber,
    string? FingerprintReference,
    float[]? Vector)
{
    private const byte FormatVersion = 1;

    /// <summary>Serializes the record.</summary>
    public byte[] ToBytes()
    {
        using var buffer = new MemoryStream(64 + (Vector?.Length ?? 0) * sizeof(float));
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
            var vector = Vector ?? [];
            w.Write(vector.Length);
            foreach (var value in vector) w.Write(value);
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
            if (format != FormatVersion) throw new InvalidDataException($"Index journal record format {format} is not supported (this build reads {FormatVersion}).");
            var sequence = r.ReadInt64();
            var operation = (JournalOperation)r.ReadByte();
            if (!Enum.IsDefined(operation)) throw new InvalidDataException($"Unknown index journal operation {(int)operation}.");
            var tenant = r.ReadString();
            var item = r.ReadString();
            var number = r.ReadInt32();
            var reference = r.ReadBoolean() ? r.ReadString() : null;
            var length = r.ReadInt32();
            if (length < 0 || length > (stream.Length - stream.Position) / sizeof(float))
                throw new InvalidDataException($"Corrupt index journal record: vector length {length}.");
            var vector = new float[length];
            for (var i = 0; i < length; i++) vector[i] = r.ReadSingle();
            if (stream.Position != stream.Length) throw new InvalidDataException("Corrupt index journal record: trailing bytes.");
            return new JournalRecord(sequence, operation, tenant, item, number, reference, operation == JournalOperation.Upsert ? vector : null);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException("Corrupt index journal record: the data ends early.", ex);
        }
    }
}
