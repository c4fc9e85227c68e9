using System.Buffers.Binary;
using System.Text;

namespace Entrupy.Fingerprinting;

/// <summary>
/// The fingerprint record of one capture: keypoint positions, their 128-d descriptors (upright, plus the steered
/// sets for enrolment), the quality figures and the global VLAD vector for a FAISS shortlist.
/// </summary>
/// <remarks>Immutable and thread-safe. Serialize with <see cref="ToBytes"/> / <see cref="FromBytes"/>.</remarks>
public sealed class Fingerprint
{
    /// <summary>
    /// Version of the <see cref="ToBytes"/> layout: 2 stores descriptors as 8-bit codes (a quarter of the size of
    /// version 1's float32). <see cref="FromBytes"/> reads both.
    /// </summary>
    public const byte FormatVersion = 2;

    /// <summary>Version 1 of the layout: float32 descriptors (still read).</summary>
    internal const byte FloatFormatVersion = 1;

    // RootSIFT components lie in [0, 1]: code = round(v × 255) (DescriptorCodes.Encode). The rounding error (≤ 0.002
    // per component) moves a descriptor dot product by about 0.001, far below the margins the matcher decides on.

    /// <summary>Descriptor length (4×4 cells × 8 orientations).</summary>
    public const int DescriptorLength = 128;

    // Rows padded with zeros to a multiple of this so the SIMD kernel needs no tail handling.
    internal const int RowPadding = 32;

    private readonly byte[] mapX;
    private readonly byte[] mapY;
    private float[][]? sets;               // [set][PaddedCount * 128], row-major, zero rows after Count; for a record read
                                           // as an enrolment, decoded from `enrolledCodes` only if asked for
    private readonly float[] angles;
    private readonly float[] globalVector;
    private byte[][]? enrolledCodes;       // [set], DescriptorCodes' interleaved 8-bit layout: the enrolled side of the kernel
    private ProbeRows? probeRows;          // the upright set as the probe side of the kernel; built on first use

    internal Fingerprint(string modelId, string modelVersion, FingerprintPurpose purpose, byte[] mapX, byte[] mapY,
        float[] angles, float[][]? sets, float[] globalVector, QualityReport quality, byte[][]? enrolledCodes = null)
    {
        ModelId = modelId;
        ModelVersion = modelVersion;
        Purpose = purpose;
        this.mapX = mapX;
        this.mapY = mapY;
        this.angles = angles;
        this.sets = sets;
        this.enrolledCodes = enrolledCodes;
        this.globalVector = globalVector;
        Quality = quality;
    }

    /// <summary>Identifier of the model that produced this fingerprint.</summary>
    public string ModelId { get; }

    /// <summary>Version of the model that produced this fingerprint.</summary>
    public string ModelVersion { get; }

    /// <summary>Probe (upright descriptors only) or enrolment (also steered sets).</summary>
    public FingerprintPurpose Purpose { get; }

    /// <summary>Quality figures of the capture (always passing: rejected captures have no fingerprint).</summary>
    public QualityReport Quality { get; }

    /// <summary>Number of keypoints (at most 256).</summary>
    public int KeypointCount => mapX.Length;

    /// <summary>Keypoint x position in pixels of the normalised 256×256 capture.</summary>
    public float KeypointX(int index) => mapX[index] * 2 + 0.5f;

    /// <summary>Keypoint y position in pixels of the normalised 256×256 capture.</summary>
    public float KeypointY(int index) => mapY[index] * 2 + 0.5f;

    /// <summary>Steering angle in degrees of each descriptor set (0 = upright), in set order.</summary>
    public IReadOnlyList<float> SteeringAngles => angles;

    /// <summary>Index of the upright descriptor set in <see cref="SteeringAngles"/>.</summary>
    public int UprightSet => Array.IndexOf(angles, 0f);

    /// <summary>The descriptors of one set: <see cref="KeypointCount"/> rows of 128 floats, unit L2 norm.</summary>
    public ReadOnlySpan<float> Descriptors(int set) => RowMajorSets()[set].AsSpan(0, KeypointCount * DescriptorLength);

    /// <summary>Global VLAD vector (unit L2; inner product = cosine) for a FAISS inner-product index.</summary>
    public ReadOnlySpan<float> GlobalVector => globalVector;

    /// <summary>A copy of <see cref="GlobalVector"/>.</summary>
    public float[] GlobalVectorArray() => (float[])globalVector.Clone();

    /// <summary>
    /// The global vector of every descriptor set: first <see cref="GlobalVector"/> (the upright set's), then the VLAD
    /// of each steered set's descriptors in set order. A probe turned against its enrolment lands nearer one of the
    /// steered views, so indexing all of them finds items the upright vector alone ranks far down.
    /// </summary>
    /// <param name="model">The model that made this record (its VLAD codebook).</param>
    /// <exception cref="ArgumentException">The record was made by another model.</exception>
    public float[][] SetGlobalVectors(FingerprintModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (ModelId != model.Id || ModelVersion != model.Version)
            throw new ArgumentException($"The fingerprint was made by model {ModelId} {ModelVersion}, not {model.Id} {model.Version}.", nameof(model));
        var result = new List<float[]>(SetCount) { GlobalVectorArray() };
        for (var s = 0; s < SetCount; s++)
            if (s != UprightSet) result.Add(RecordBuilder.GlobalVector(Descriptors(s), KeypointCount, model.Codebook, model.VladMean, DescriptorLength));
        return [.. result];
    }

    internal int PaddedCount => PadRows(KeypointCount);
    internal ReadOnlySpan<byte> MapX => mapX;
    internal ReadOnlySpan<byte> MapY => mapY;
    internal float[] PaddedSet(int set) => RowMajorSets()[set];
    internal int SetCount => angles.Length;

    /// <summary>Every descriptor set as 8-bit codes in the kernel's interleaved layout (enrolled side); cached.</summary>
    internal byte[][] EnrolledCodes()
    {
        var cached = Volatile.Read(ref enrolledCodes);
        if (cached is not null) return cached;
        var rowMajor = sets!; // one of the two forms always exists
        var result = new byte[rowMajor.Length][];
        for (var s = 0; s < result.Length; s++) result[s] = DescriptorCodes.EncodeEnrolled(rowMajor[s], KeypointCount, PaddedCount);
        // Racing threads build identical arrays; whichever lands first is kept.
        return Interlocked.CompareExchange(ref enrolledCodes, result, null) ?? result;
    }

    /// <summary>The upright set as signed codes with per-row factors (probe side of the kernel), rows padded; cached.</summary>
    internal ProbeRows ProbeCodes()
    {
        var cached = Volatile.Read(ref probeRows);
        if (cached is not null) return cached;
        var result = DescriptorCodes.EncodeProbe(RowMajorSets()[UprightSet], KeypointCount, PaddedCount);
        return Interlocked.CompareExchange(ref probeRows, result, null) ?? result;
    }

    /// <summary>Descriptor sets row-major, [PaddedCount][128]; for a record read as an enrolment, decoded from its codes on first use.</summary>
    private float[][] RowMajorSets()
    {
        var cached = Volatile.Read(ref sets);
        if (cached is not null) return cached;
        var codes = enrolledCodes!;
        var padded = PaddedCount;
        var result = new float[codes.Length][];
        Span<byte> row = stackalloc byte[DescriptorLength];
        for (var s = 0; s < codes.Length; s++)
        {
            var target = result[s] = new float[padded * DescriptorLength];
            for (var j = 0; j < KeypointCount; j++)
            {
                DescriptorCodes.ReadEnrolledRow(codes[s], padded, j, row);
                DescriptorCodes.DecodeAll(row, target.AsSpan(j * DescriptorLength, DescriptorLength));
            }
        }
        return Interlocked.CompareExchange(ref sets, result, null) ?? result;
    }

    internal static int PadRows(int count) => Math.Max(RowPadding, (count + RowPadding - 1) / RowPadding * RowPadding);

    /// <summary>
    /// Serializes the record (little-endian, <see cref="FormatVersion"/>): descriptors as 8-bit codes, everything else
    /// exact. A record read back scores like the original up to that rounding, and serializes to the same bytes again.
    /// </summary>
    public byte[] ToBytes()
    {
        var id = Encoding.UTF8.GetBytes(ModelId);
        var version = Encoding.UTF8.GetBytes(ModelVersion);
        var k = KeypointCount;
        var size = 1 + 1 + id.Length + 1 + version.Length + 1 + 2 + 1 + 4 * angles.Length + 8 + 32 + 2 * k
            + DescriptorLength * k * SetCount + 2 + 4 * globalVector.Length;
        var buffer = new byte[size];
        var w = new SpanWriter(buffer);
        w.Byte(FormatVersion);
        w.Byte((byte)id.Length); w.Bytes(id);
        w.Byte((byte)version.Length); w.Bytes(version);
        w.Byte((byte)Purpose);
        w.UInt16((ushort)k);
        w.Byte((byte)SetCount);
        foreach (var a in angles) w.Single(a);
        w.Int32(Quality.Width); w.Int32(Quality.Height);
        w.Double(Quality.Focus); w.Double(Quality.Mean); w.Double(Quality.Contrast); w.Double(Quality.Clipped);
        w.Bytes(mapX); w.Bytes(mapY);
        if (Volatile.Read(ref enrolledCodes) is { } codes)
        {
            // Read back as an enrolment: its codes are the record's own, written again as they are.
            Span<byte> row = stackalloc byte[DescriptorLength];
            foreach (var set in codes)
                for (var j = 0; j < k; j++) { DescriptorCodes.ReadEnrolledRow(set, PaddedCount, j, row); w.Bytes(row); }
        }
        else
        {
            foreach (var set in RowMajorSets()) DescriptorCodes.EncodeAll(set.AsSpan(0, k * DescriptorLength), w.Reserve(k * DescriptorLength));
        }
        w.UInt16((ushort)globalVector.Length);
        foreach (var v in globalVector) w.Single(v);
        return buffer;
    }

    /// <summary>Reads a record written by <see cref="ToBytes"/> and checks it was made by <paramref name="model"/>.</summary>
    /// <exception cref="InvalidDataException">Unknown format version, truncated/corrupt data, or a different model id/version.</exception>
    public static Fingerprint FromBytes(ReadOnlySpan<byte> data, FingerprintModel model) => Read(data, model, descriptors: true).Fingerprint!;

    /// <summary>
    /// Checks a record exactly as <see cref="FromBytes"/> does but reads only what describes it (purpose, keypoint and
    /// set counts, quality, global vector), not its descriptors: a fraction of the time and none of the ~400 KB of
    /// floats an enrolment's descriptors take, for callers that only store or index the record.
    /// </summary>
    /// <param name="data">The record.</param>
    /// <param name="model">The model it must have been made by.</param>
    /// <param name="steeredViews">Also compute the steered sets' global vectors (<see cref="FingerprintSummary.SetGlobalVectors"/>, ~0.08 ms each); without, that holds the upright one only.</param>
    /// <exception cref="InvalidDataException">As <see cref="FromBytes"/>.</exception>
    public static FingerprintSummary ReadSummary(ReadOnlySpan<byte> data, FingerprintModel model, bool steeredViews = true) =>
        Read(data, model, descriptors: false, steeredViews).Summary;

    private static (Fingerprint? Fingerprint, FingerprintSummary Summary) Read(ReadOnlySpan<byte> data, FingerprintModel model, bool descriptors,
        bool steeredViews = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        try
        {
            var r = new SpanReader(data);
            var format = r.Byte();
            if (format is not (FormatVersion or FloatFormatVersion))
                throw new InvalidDataException($"Fingerprint format version {format} is not supported (this build reads {FloatFormatVersion} and {FormatVersion}).");
            var id = Encoding.UTF8.GetString(r.Bytes(r.Byte()));
            var version = Encoding.UTF8.GetString(r.Bytes(r.Byte()));
            if (id != model.Id || version != model.Version)
                throw new InvalidDataException($"The fingerprint was made by model {id} {version}; this engine runs {model.Id} {model.Version}. Re-enrol the item.");
            var purpose = (FingerprintPurpose)r.Byte();
            if (purpose is not (FingerprintPurpose.Probe or FingerprintPurpose.Enrolment))
                throw new InvalidDataException($"Unknown fingerprint purpose {(int)purpose}.");
            int k = r.UInt16(), setCount = r.Byte();
            if (k > model.Config.MaxKeypoints || setCount == 0)
                throw new InvalidDataException($"Corrupt fingerprint: {k} keypoints, {setCount} descriptor sets.");
            var angles = new float[setCount];
            for (var s = 0; s < setCount; s++) angles[s] = r.Single();
            if (Array.IndexOf(angles, 0f) < 0) throw new InvalidDataException("Corrupt fingerprint: no upright descriptor set.");
            int width = r.Int32(), height = r.Int32();
            var quality = new QualityReport(width, height, r.Double(), r.Double(), r.Double(), r.Double(), null, null);
            var mapX = r.Bytes(k).ToArray();
            var mapY = r.Bytes(k).ToArray();
            var padded = PadRows(k);
            // An enrolment read back is the enrolled side of compares, which multiplies its 8-bit codes as they are:
            // keep them (interleaved for the kernel), a quarter of the memory of floats; floats only if asked for.
            var enrolled = purpose == FingerprintPurpose.Enrolment;
            float[][]? rowMajor = null;
            byte[][]? codeSets = null;
            float[][]? steeredVectors = null;
            if (descriptors)
            {
                // Format 1's floats are kept as they are (an enrolment's codes are made from them on first use).
                if (enrolled && format == FormatVersion) codeSets = new byte[setCount][];
                else rowMajor = new float[setCount][];
                for (var s = 0; s < setCount; s++)
                {
                    if (format == FloatFormatVersion)
                    {
                        var values = rowMajor![s] = new float[padded * DescriptorLength];
                        for (var i = 0; i < k * DescriptorLength; i++) values[i] = r.Single();
                    }
                    else if (enrolled)
                    {
                        codeSets![s] = DescriptorCodes.InterleaveEnrolled(r.Bytes(k * DescriptorLength), k, padded);
                    }
                    else
                    {
                        // Every value is written below except the zero padding: not clearing the whole array first
                        // saves a pass over it.
                        var target = rowMajor![s] = GC.AllocateUninitializedArray<float>(padded * DescriptorLength);
                        target.AsSpan(k * DescriptorLength).Clear();
                        DescriptorCodes.DecodeAll(r.Bytes(k * DescriptorLength), target);
                    }
                }
            }
            else if (!steeredViews || purpose != FingerprintPurpose.Enrolment)
            {
                r.Bytes(checked(k * DescriptorLength * setCount * (format == FloatFormatVersion ? sizeof(float) : 1)));
            }
            else
            {
                // Only the steered sets' global vectors are computed (one set at a time in a pooled buffer).
                var upright = Array.IndexOf(angles, 0f);
                steeredVectors = new float[setCount][];
                var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(Math.Max(1, k * DescriptorLength));
                var scratch = System.Buffers.ArrayPool<double>.Shared.Rent(model.Codebook.Length);
                try
                {
                    for (var s = 0; s < setCount; s++)
                    {
                        var rows = buffer.AsSpan(0, k * DescriptorLength);
                        if (s == upright)
                        {
                            r.Bytes(checked(rows.Length * (format == FloatFormatVersion ? sizeof(float) : 1)));
                            continue;
                        }
                        if (format == FloatFormatVersion)
                            for (var i = 0; i < rows.Length; i++) rows[i] = r.Single();
                        else
                            DescriptorCodes.DecodeAll(r.Bytes(rows.Length), rows);
                        steeredVectors[s] = RecordBuilder.GlobalVector(rows, k, model.Codebook, model.VladMean, DescriptorLength, scratch);
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<double>.Shared.Return(scratch);
                    System.Buffers.ArrayPool<float>.Shared.Return(buffer);
                }
            }
            var global = new float[r.UInt16()];
            for (var i = 0; i < global.Length; i++) global[i] = r.Single();
            if (!r.AtEnd) throw new InvalidDataException("Corrupt fingerprint: trailing bytes.");
            var summary = new FingerprintSummary(purpose, k, setCount, quality, global)
            {
                SetGlobalVectors = steeredVectors is null ? [global] : [global, .. steeredVectors.Where(v => v is not null)],
            };
            if (!descriptors) return (null, summary);
            return (new Fingerprint(id, version, purpose, mapX, mapY, angles, rowMajor, global, quality, codeSets), summary);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new InvalidDataException("Corrupt fingerprint: the data ends early.", ex);
        }
    }

    private ref struct SpanWriter(Span<byte> buffer)
    {
        private readonly Span<byte> buffer = buffer;
        private int position;
        public void Byte(byte v) => buffer[position++] = v;
        public void Bytes(scoped ReadOnlySpan<byte> v) { v.CopyTo(buffer[position..]); position += v.Length; }
        public Span<byte> Reserve(int n) { var span = buffer.Slice(position, n); position += n; return span; }
        public void UInt16(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(buffer[position..], v); position += 2; }
        public void Int32(int v) { BinaryPrimitives.WriteInt32LittleEndian(buffer[position..], v); position += 4; }
        public void Single(float v) { BinaryPrimitives.WriteSingleLittleEndian(buffer[position..], v); position += 4; }
        public void Double(double v) { BinaryPrimitives.WriteDoubleLittleEndian(buffer[position..], v); position += 8; }
    }

    private ref struct SpanReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> data = data;
        private int position;
        public readonly bool AtEnd => position == data.Length;
        public byte Byte() => Take(1)[0];
        public ReadOnlySpan<byte> Bytes(int n) => Take(n);
        public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        public float Single() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));
        public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n > data.Length - position) throw new ArgumentOutOfRangeException(nameof(n));
            var span = data.Slice(position, n);
            position += n;
            return span;
        }
    }
}

/// <summary>What <see cref="Fingerprint.ReadSummary"/> reads of a record: everything but its descriptors.</summary>
/// <param name="Purpose">Probe or enrolment.</param>
/// <param name="KeypointCount">Keypoints (descriptor rows per set).</param>
/// <param name="SetCount">Descriptor sets (1 for a probe; the upright and steered sets for an enrolment).</param>
/// <param name="Quality">The capture's quality figures.</param>
/// <param name="GlobalVector">The global VLAD vector (a copy the caller owns).</param>
public sealed record FingerprintSummary(FingerprintPurpose Purpose, int KeypointCount, int SetCount, QualityReport Quality, float[] GlobalVector)
{
    /// <summary>
    /// The global vector of every descriptor set, <see cref="GlobalVector"/> first, as
    /// <see cref="Fingerprint.SetGlobalVectors"/> computes them (a probe has only the one).
    /// </summary>
    public float[][] SetGlobalVectors { get; init; } = [];
}
