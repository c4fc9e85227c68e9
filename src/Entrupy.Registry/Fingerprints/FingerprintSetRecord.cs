using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Entrupy.Registry.Fingerprints;

/// <summary>
/// The stored form of a fingerprint set: <c>"EFPS"</c>, layout version (1), capture count (uint16), then per capture its
/// length (uint32) and SHA-256, then the captures' bytes in order. Little-endian. The hashes let a read tell damaged
/// or edited storage from a fingerprint that simply does not match.
/// </summary>
internal static class FingerprintSetRecord
{
    private const byte LayoutVersion = 1;
    private const int EntryBytes = sizeof(uint) + SHA256.HashSizeInBytes;
    private static ReadOnlySpan<byte> Magic => "EFPS"u8;

    /// <summary>Builds the record of <paramref name="captures"/> (each a serialized fingerprint).</summary>
    public static byte[] Write(IReadOnlyList<byte[]> captures)
    {
        var header = Magic.Length + 1 + sizeof(ushort) + EntryBytes * captures.Count;
        var record = new byte[header + captures.Sum(c => c.Length)];
        Magic.CopyTo(record);
        record[Magic.Length] = LayoutVersion;
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(Magic.Length + 1), (ushort)captures.Count);
        var entry = Magic.Length + 1 + sizeof(ushort);
        var body = header;
        foreach (var capture in captures)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(entry), (uint)capture.Length);
            SHA256.HashData(capture, record.AsSpan(entry + sizeof(uint), SHA256.HashSizeInBytes));
            capture.CopyTo(record, body);
            entry += EntryBytes;
            body += capture.Length;
        }
        return record;
    }

    /// <summary>The captures of a record written by <see cref="Write"/> (slices of it, not copies), each checked against its SHA-256.</summary>
    /// <exception cref="InvalidDataException">Not such a record, truncated, or a capture whose bytes were changed.</exception>
    public static ReadOnlyMemory<byte>[] Read(ReadOnlyMemory<byte> stored)
    {
        var record = stored.Span;
        if (record.Length < Magic.Length + 1 + sizeof(ushort) || !record.StartsWith(Magic))
            throw new InvalidDataException("It is not a fingerprint set record.");
        if (record[Magic.Length] != LayoutVersion)
            throw new InvalidDataException($"Fingerprint set layout {record[Magic.Length]} is not supported (this build reads {LayoutVersion}).");
        int count = BinaryPrimitives.ReadUInt16LittleEndian(record[(Magic.Length + 1)..]);
        var entry = Magic.Length + 1 + sizeof(ushort);
        long body = entry + (long)EntryBytes * count;
        if (count == 0 || body > record.Length) throw new InvalidDataException($"Corrupt fingerprint set record: {count} captures.");
        var captures = new ReadOnlyMemory<byte>[count];
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        for (var i = 0; i < count; i++, entry += EntryBytes)
        {
            long length = BinaryPrimitives.ReadUInt32LittleEndian(record[entry..]);
            if (body + length > record.Length) throw new InvalidDataException($"Corrupt fingerprint set record: capture {i} ends after the record.");
            var capture = record.Slice((int)body, (int)length);
            SHA256.HashData(capture, hash);
            if (!hash.SequenceEqual(record.Slice(entry + sizeof(uint), SHA256.HashSizeInBytes)))
                throw new InvalidDataException($"Capture {i} does not match its recorded SHA-256: stored data was changed.");
            captures[i] = stored.Slice((int)body, (int)length);
            body += length;
        }
        if (body != record.Length) throw new InvalidDataException("Corrupt fingerprint set record: trailing bytes.");
        return captures;
    }
}
