using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Entrupy.Device.Batch;

/// <summary>One record of a journal (a JSON line). <see cref="Type"/> says which fields are set.</summary>
internal sealed record JournalRecord
{
    /// <summary><c>run</c> (the header), <c>started</c>, <c>done</c> or <c>failed</c>.</summary>
    public string Type { get; init; } = "";

    /// <summary>Header: random id of the journal; part of every idempotency key.</summary>
    public string? RunId { get; init; }

    /// <summary>Header: <c>register</c> or <c>link</c>.</summary>
    public string? Mode { get; init; }

    /// <summary>Header: registrations under generated temporary ids.</summary>
    public bool? Temporary { get; init; }

    /// <summary>Header: the manifest's full path when the journal was created.</summary>
    public string? Manifest { get; init; }

    /// <summary>Manifest line number.</summary>
    public int? Line { get; init; }

    /// <summary><see cref="ManifestLine.ContentHash"/> of that line.</summary>
    public string? Hash { get; init; }

    /// <summary>The item id used (the generated id with <c>--temporary</c>).</summary>
    public string? Id { get; init; }

    /// <summary>With <c>--temporary</c>: the manifest's own reference for the item.</summary>
    public string? Reference { get; init; }

    /// <summary>started: the Idempotency-Key sent; a resumed line sends it again.</summary>
    public string? Key { get; init; }

    /// <summary>header: creation time; started: the capture/event time sent, reused on resume so the request is identical.</summary>
    public DateTimeOffset? At { get; init; }

    /// <summary>done (register): the lineage number of the registration.</summary>
    public int? Registration { get; init; }

    /// <summary>failed: the error kind (as in <c>--json</c> <c>error.kind</c>).</summary>
    public string? Kind { get; init; }

    /// <summary>failed: the reason.</summary>
    public string? Reason { get; init; }
}

/// <summary>
/// The append-only journal of a batch (JSON lines). A header (<c>run</c>) fixes the run id; each line sent gets a
/// <c>started</c> record (idempotency key, time) before its request and a <c>done</c> or <c>failed</c> record after.
/// Every record is flushed to the OS as it is written, so killing the process loses nothing acknowledged. On a
/// re-run, lines with a <c>done</c> record for the same content are skipped; a line that was in flight is re-sent
/// with the same idempotency key and body, so the server replays its first answer instead of registering twice.
/// </summary>
internal sealed class BatchJournal : IDisposable
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly FileStream stream;
    private readonly Lock gate = new();
    private readonly Dictionary<(int Line, string Hash), JournalRecord> done = [];
    private readonly Dictionary<(int Line, string Hash), JournalRecord> started = [];

    private BatchJournal(string path, FileStream stream, JournalRecord header, int ignoredLines)
    {
        Path = path;
        this.stream = stream;
        Header = header;
        IgnoredLines = ignoredLines;
    }

    /// <summary>The journal file.</summary>
    public string Path { get; }

    /// <summary>The header record.</summary>
    public JournalRecord Header { get; }

    /// <summary>The random id of this journal's run.</summary>
    public string RunId => Header.RunId!;

    /// <summary>Unreadable lines found when opening (a record cut by a kill mid-write).</summary>
    public int IgnoredLines { get; }

    /// <summary>Lines recorded as done.</summary>
    public IReadOnlyCollection<JournalRecord> DoneRecords => done.Values;

    /// <summary>The default journal of a manifest: <c>&lt;manifest&gt;.journal</c> beside it.</summary>
    public static string DefaultPathFor(string manifestPath) => manifestPath + ".journal";

    /// <summary>Opens (or creates) a journal for <paramref name="mode"/>.</summary>
    /// <exception cref="JournalMismatchException">The journal belongs to another mode or was made with other options.</exception>
    public static BatchJournal Open(string path, string mode, bool temporary, string manifestPath)
    {
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            // Two runs appending to one journal would send lines twice: the second one is refused.
            if (!OperatingSystem.IsMacOS())
            {
                try { stream.Lock(0, long.MaxValue); }
                catch (IOException) { throw new JournalMismatchException($"journal {path} is in use by another entrupy process"); }
            }

            JournalRecord? header = null;
            var records = new List<JournalRecord>();
            var ignored = 0;
            bool endsWithNewline = true;
            if (stream.Length > 0)
            {
                using (var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, leaveOpen: true))
                {
                    while (reader.ReadLine() is { } text)
                    {
                        if (text.Length == 0) continue;
                        JournalRecord? record = null;
                        try { record = JsonSerializer.Deserialize<JournalRecord>(text, JsonOptions); }
                        catch (JsonException) { }
                        if (record is null) { ignored++; continue; }
                        if (record.Type == "run") header ??= record;
                        else records.Add(record);
                    }
                }
                stream.Seek(-1, SeekOrigin.End);
                endsWithNewline = stream.ReadByte() == '\n';
            }
            stream.Seek(0, SeekOrigin.End);
            // A record cut by a kill must not swallow the next one: start a fresh line.
            if (!endsWithNewline) { stream.WriteByte((byte)'\n'); stream.Flush(); }

            if (header is not null)
            {
                if (header.Mode != mode)
                    throw new JournalMismatchException($"journal {path} was written by 'batch {header.Mode}', not 'batch {mode}'; use another --journal");
                if ((header.Temporary ?? false) != temporary)
                    throw new JournalMismatchException($"journal {path} was written {(temporary ? "without" : "with")} --temporary; run again {(temporary ? "without" : "with")} it, or use another --journal");
            }
            var isNew = header is null;
            header ??= new JournalRecord
            {
                Type = "run",
                RunId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)),
                Mode = mode,
                Temporary = temporary,
                Manifest = manifestPath,
                At = DateTimeOffset.UtcNow,
            };
            var journal = new BatchJournal(path, stream, header, ignored);
            if (isNew) journal.Append(header);
            foreach (var r in records)
            {
                if (r.Line is not { } line || r.Hash is null) continue;
                if (r.Type == "done") journal.done[(line, r.Hash)] = r;
                else if (r.Type == "started") journal.started[(line, r.Hash)] = r;
            }
            return journal;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The done record of this line's current content, if any.</summary>
    public JournalRecord? Done(ManifestLine line)
    {
        lock (gate) return done.GetValueOrDefault((line.LineNumber, line.ContentHash));
    }

    /// <summary>
    /// The started record of this line, written now if the line was never sent; a line that was in flight keeps its
    /// first key and time so the re-sent request is byte-identical.
    /// </summary>
    public JournalRecord Start(ManifestLine line, Func<JournalRecord> create)
    {
        lock (gate)
        {
            if (started.TryGetValue((line.LineNumber, line.ContentHash), out var existing)) return existing;
            var record = create() with { Type = "started", Line = line.LineNumber, Hash = line.ContentHash };
            Append(record);
            started[(line.LineNumber, line.ContentHash)] = record;
            return record;
        }
    }

    /// <summary>Records a line as done.</summary>
    public void MarkDone(ManifestLine line, JournalRecord record)
    {
        lock (gate)
        {
            var full = record with { Type = "done", Line = line.LineNumber, Hash = line.ContentHash };
            Append(full);
            done[(line.LineNumber, line.ContentHash)] = full;
        }
    }

    /// <summary>Records a line as failed (a re-run tries it again).</summary>
    public void MarkFailed(ManifestLine line, string kind, string reason)
    {
        lock (gate) Append(new JournalRecord { Type = "failed", Line = line.LineNumber, Hash = line.ContentHash, Kind = kind, Reason = reason });
    }

    /// <summary>Idempotency key of a line: derived from the run id and the line's number and content.</summary>
    public string IdempotencyKeyFor(ManifestLine line) =>
        "cli-" + Hash($"{RunId}\n{Header.Mode}\n{line.LineNumber}\n{line.Raw}")[..48];

    /// <summary>Generated temporary id of a line (stable across re-runs of this journal).</summary>
    public string TemporaryIdFor(ManifestLine line) =>
        "tmp-" + Hash($"tmp\n{RunId}\n{line.LineNumber}\n{line.Raw}")[..24];

    /// <inheritdoc />
    public void Dispose() => stream.Dispose();

    private void Append(JournalRecord record)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(record, JsonOptions);
        stream.Write(bytes);
        stream.WriteByte((byte)'\n');
        // To the OS, not to the disk: survives the process being killed, costs no fsync per line.
        stream.Flush();
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}

/// <summary>The journal cannot be used for this run; exit code 2.</summary>
internal sealed class JournalMismatchException(string message) : Exception(message);
