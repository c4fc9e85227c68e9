using System.Security.Cryptography;
using System.Text.Json;
using Entrupy.Fingerprinting;
using Orleans;
using Orleans.Concurrency;
using Entrupy.Storage;
using Orleans.Runtime;
using Orleans.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Registry.Fingerprints;

/// <summary>
/// Stores a registration's fingerprints in one write-once record
/// (<c>fingerprint/{tenant}/{item}/{setId}/set</c>, <see cref="FingerprintSetRecord"/>): the SHA-256 and length of every
/// capture, then the captures. One durable write, so a set is either wholly there or absent.
/// Sets written before this layout (a record per capture, then a JSON manifest of their SHA-256s) are still read.
/// </summary>
[GrainType("fingerprintset")]
[CollectionAgeLimit("00:05:00")]
internal sealed class FingerprintSetGrain : Grain, IFingerprintSetGrain
{
    /// <summary>Most captures one registration may have.</summary>
    internal const int MaxCaptures = 16;

    /// <summary>Largest accepted serialized fingerprint (an enrolment record is ~100 KB, a version-1 float32 one ~400 KB).</summary>
    internal const int MaxFingerprintBytes = 4 * 1024 * 1024;

    private const string GrainTypeName = "fingerprint";

    private RecordStore storage = null!;
    private FingerprintModel model = null!;
    private FingerprintMatcher matcher = null!;
    private string key = "";
    private ReadOnlyMemory<byte>? stored;             // the set record as read, until parsed into captures
    private bool written;                             // stored by this activation: read back (and checked) when used
    private LegacyManifest? legacyManifest;           // a set in the earlier layout
    private Fingerprint[]? captures;

    private bool Exists => stored is not null || written || legacyManifest is not null || captures is not null;

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        key = this.GetPrimaryKeyString();
        FingerprintReferences.ParseSetKey(key);
        storage = ServiceProvider.GetRecordStore();
        model = ServiceProvider.GetRequiredService<FingerprintModel>();
        matcher = ServiceProvider.GetService<FingerprintMatcher>() ?? new FingerprintMatcher(model);
        if (await storage.ReadAsync(SetKey, cancellationToken) is { } record)
            stored = record.Data;
        else if (await storage.ReadAsync(LegacyManifestKey, cancellationToken) is { } manifest)
            legacyManifest = JsonSerializer.Deserialize<LegacyManifest>(manifest.Data.Span);
    }

    /// <inheritdoc />
    public async Task<bool> Store(Immutable<byte[][]> immutableFingerprints)
    {
        var fingerprints = immutableFingerprints.Value;
        ArgumentNullException.ThrowIfNull(fingerprints);
        if (Exists) return false;
        if (fingerprints.Length is < 1 or > MaxCaptures)
            throw new RegistryValidationException("fingerprints", fingerprints.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), $"a registration needs 1-{MaxCaptures} fingerprints");
        if (fingerprints.Any(f => f is not { Length: > 0 and <= MaxFingerprintBytes }))
            throw new RegistryValidationException("fingerprints", null, $"every fingerprint must be 1-{MaxFingerprintBytes} bytes");

        var record = FingerprintSetRecord.Write(fingerprints);
        try
        {
            await storage.WriteAsync(SetKey, record, expectedETag: null);
        }
        catch (InconsistentStateException)
        {
            // An earlier attempt's write landed after all (its outcome was unknown to it): that set is the set.
            stored = (await storage.ReadAsync(SetKey))?.Data ?? throw new RegistryConflictException($"The fingerprint set '{key}' changed while it was being stored; retry the registration.");
            return false;
        }
        written = true;
        return true;
    }

    /// <inheritdoc />
    public async Task Discard()
    {
        if (legacyManifest is not null) return;
        if (await storage.ReadAsync(SetKey) is { } record) await storage.ClearAsync(SetKey, record.ETag);
        stored = null;
        written = false;
        captures = null;
    }

    /// <inheritdoc />
    public async Task<float[][]> GetIndexVectors() => IndexVectors.Of(captures ?? await LoadAsync(), model);

    /// <inheritdoc />
    public async Task<FingerprintSetMatch> Compare(Immutable<byte[][]> immutableProbes)
    {
        var probes = immutableProbes.Value;
        ArgumentNullException.ThrowIfNull(probes);
        if (probes.Length == 0) throw new RegistryValidationException("probes", "0", "at least one probe fingerprint is needed");
        var enrolled = captures ?? await LoadAsync();
        FingerprintSetMatch? best = null;
        for (var p = 0; p < probes.Length; p++)
        {
            // The probe arrives as bytes and is parsed here, wherever this activation lives: the caller may be on
            // another silo (and even in one silo, Orleans hands the grain a copy of the caller's arrays).
            Fingerprint probe;
            try
            {
                probe = Fingerprint.FromBytes(probes[p] ?? [], model);
            }
            catch (InvalidDataException ex)
            {
                throw new RegistryValidationException("fingerprint", null, ex.Message.TrimEnd('.'));
            }
            var score = matcher.Compare(probe, enrolled);
            if (best is null || score.Score > best.Score) best = new FingerprintSetMatch(score.Score, p, score.BestCapture);
        }
        return best!;
    }

    private async Task<Fingerprint[]> LoadAsync()
    {
        ReadOnlyMemory<byte>[] records;
        if (stored is null && written)
            stored = (await storage.ReadAsync(SetKey))?.Data ?? throw new RegistryConflictException($"The fingerprint set '{key}' is missing from storage.");
        if (stored is { } data)
        {
            try
            {
                records = FingerprintSetRecord.Read(data);
            }
            catch (InvalidDataException ex)
            {
                throw new RegistryConflictException($"The fingerprint set '{key}' cannot be read: {ex.Message}");
            }
        }
        else if (legacyManifest is { } manifest)
        {
            records = await ReadLegacyCapturesAsync(manifest);
        }
        else
        {
            throw new RegistryNotFoundException($"No fingerprints are stored under '{key}'.");
        }

        var loaded = new Fingerprint[records.Length];
        for (var i = 0; i < records.Length; i++)
        {
            try
            {
                loaded[i] = Fingerprint.FromBytes(records[i].Span, model);
            }
            catch (InvalidDataException ex)
            {
                throw new RegistryConflictException($"Fingerprint capture {i} of '{key}' cannot be compared: {ex.Message}");
            }
        }
        stored = null; // parsed: the fingerprints are what this activation keeps
        return captures = loaded;
    }

    private async Task<ReadOnlyMemory<byte>[]> ReadLegacyCapturesAsync(LegacyManifest manifest)
    {
        var records = await Task.WhenAll(Enumerable.Range(0, manifest.Sha256.Length).Select(i => storage.ReadAsync(LegacyCaptureKey(i))));
        var bytes = new ReadOnlyMemory<byte>[records.Length];
        for (var i = 0; i < records.Length; i++)
        {
            var data = records[i]?.Data ?? throw new RegistryConflictException($"Fingerprint capture {i} of '{key}' is missing from storage.");
            if (Convert.ToHexStringLower(SHA256.HashData(data.Span)) != manifest.Sha256[i])
                throw new RegistryConflictException($"Fingerprint capture {i} of '{key}' does not match its recorded SHA-256: stored data was changed.");
            bytes[i] = data;
        }
        return bytes;
    }

    private RecordKey SetKey => new(GrainTypeName, key, "set");

    private RecordKey LegacyManifestKey => new(GrainTypeName, key, "manifest");

    private RecordKey LegacyCaptureKey(int capture) => new(GrainTypeName, $"{key}/{capture}", "fingerprint");

    /// <summary>The earlier layout's manifest record: one SHA-256 (lowercase hex) per capture record, in order.</summary>
    private sealed record LegacyManifest(string[] Sha256);
}
