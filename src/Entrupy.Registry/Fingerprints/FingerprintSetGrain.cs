using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Entrupy.Fingerprinting;
using Entrupy.Grains;
using Entrupy.Grains.Persistence;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Registry.Fingerprints;

/// <summary>
/// Stores a registration's fingerprints as raw records, one per capture
/// (<c>fingerprint/{tenant}/{item}/{setId}/{capture}/fingerprint</c>), then a manifest
/// (<c>fingerprint/{tenant}/{item}/{setId}/manifest</c>) with their SHA-256s. The manifest is written last: until it
/// exists nothing refers to the captures and a retry may overwrite them; once it exists the set never changes.
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

    // A trace sends the same probe array to every candidate's set grain; in one silo (no copy through the serializer)
    // it is parsed once instead of once per candidate (parsing a probe allocates ~130 KB of floats: an LOH allocation each).
    private static readonly ConditionalWeakTable<byte[], Fingerprint> ParsedProbes = new();

    private IGrainStorage storage = null!;
    private FingerprintModel model = null!;
    private FingerprintMatcher matcher = null!;
    private string key = "";
    private FingerprintSetManifest? manifest;
    private Fingerprint[]? captures;

    /// <summary>Lets set grains of this silo reuse a probe the caller already parsed from exactly this array.</summary>
    internal static void RememberProbe(byte[] bytes, Fingerprint parsed) => ParsedProbes.AddOrUpdate(bytes, parsed);

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        key = GetPrimaryKeyString();
        FingerprintReferences.ParseSetKey(key);
        storage = ServiceProvider.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default);
        model = ServiceProvider.GetRequiredService<FingerprintModel>();
        matcher = ServiceProvider.GetService<FingerprintMatcher>() ?? new FingerprintMatcher(model);
        if (await storage.ReadAsync(ManifestKey, cancellationToken) is { } stored)
            manifest = JsonSerializer.Deserialize<FingerprintSetManifest>(stored.Data.Span);
    }

    /// <inheritdoc />
    public async Task<bool> Store(byte[][] fingerprints)
    {
        ArgumentNullException.ThrowIfNull(fingerprints);
        if (manifest is not null) return false;
        if (fingerprints.Length is < 1 or > MaxCaptures)
            throw new RegistryValidationException("fingerprints", fingerprints.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), $"a registration needs 1-{MaxCaptures} fingerprints");
        if (fingerprints.Any(f => f is not { Length: > 0 and <= MaxFingerprintBytes }))
            throw new RegistryValidationException("fingerprints", null, $"every fingerprint must be 1-{MaxFingerprintBytes} bytes");

        for (var i = 0; i < fingerprints.Length; i++)
        {
            var captureKey = CaptureKey(i);
            try
            {
                await storage.WriteAsync(captureKey, fingerprints[i], expectedETag: null);
            }
            catch (InconsistentStateException)
            {
                // Left by an attempt that stopped before its manifest: unreferenced, so this attempt replaces it.
                var existing = await storage.ReadAsync(captureKey);
                await storage.WriteAsync(captureKey, fingerprints[i], existing?.ETag);
            }
        }

        var written = new FingerprintSetManifest(fingerprints.Select(f => Convert.ToHexStringLower(SHA256.HashData(f))).ToArray());
        await storage.WriteAsync(ManifestKey, JsonSerializer.SerializeToUtf8Bytes(written), expectedETag: null);
        manifest = written;
        return true;
    }

    /// <inheritdoc />
    public async Task<float[]> GetIndexVector() => IndexVectors.Of(captures ?? await LoadAsync());

    /// <inheritdoc />
    public async Task<FingerprintSetMatch> Compare(byte[][] probes)
    {
        ArgumentNullException.ThrowIfNull(probes);
        if (probes.Length == 0) throw new RegistryValidationException("probes", "0", "at least one probe fingerprint is needed");
        var enrolled = captures ?? await LoadAsync();
        FingerprintSetMatch? best = null;
        for (var p = 0; p < probes.Length; p++)
        {
            Fingerprint probe;
            try
            {
                var bytes = probes[p] ?? [];
                if (!ParsedProbes.TryGetValue(bytes, out probe!) || probe.ModelId != model.Id || probe.ModelVersion != model.Version)
                {
                    probe = Fingerprint.FromBytes(bytes, model);
                    ParsedProbes.AddOrUpdate(bytes, probe);
                }
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
        if (manifest is null) throw new RegistryNotFoundException($"No fingerprints are stored under '{key}'.");
        var records = await Task.WhenAll(Enumerable.Range(0, manifest.Sha256.Length).Select(i => storage.ReadAsync(CaptureKey(i))));
        var loaded = new Fingerprint[records.Length];
        for (var i = 0; i < records.Length; i++)
        {
            var data = records[i]?.Data ?? throw new RegistryConflictException($"Fingerprint capture {i} of '{key}' is missing from storage.");
            if (Convert.ToHexStringLower(SHA256.HashData(data.Span)) != manifest.Sha256[i])
                throw new RegistryConflictException($"Fingerprint capture {i} of '{key}' does not match its recorded SHA-256: stored data was changed.");
            try
            {
                loaded[i] = Fingerprint.FromBytes(data.Span, model);
            }
            catch (InvalidDataException ex)
            {
                throw new RegistryConflictException($"Fingerprint capture {i} of '{key}' cannot be compared: {ex.Message}");
            }
        }
        return captures = loaded;
    }

    private GrainStateKey ManifestKey => new(GrainTypeName, key, "manifest");

    private GrainStateKey CaptureKey(int capture) => new(GrainTypeName, $"{key}/{capture}", "fingerprint");

    /// <summary>The manifest record: one SHA-256 (lowercase hex) per capture, in order.</summary>
    private sealed record FingerprintSetManifest(string[] Sha256);
}
