using System.Globalization;
using Entrupy.Grains.Persistence;
using Entrupy.Grains.Persistence.Sqlite;
using Entrupy.Grains.Persistence.Sqlite.CrashWriter;

// usage: CrashWriter DB_PATH WRITERS [MAX_SECONDS]
// Each writer owns one key and rewrites it forever with sequence numbers that continue from what the file holds.
// "ACK key sequence" goes to stdout only after WriteAsync returned, i.e. after the write is durable. The parent test
// kills this process mid-stream; MAX_SECONDS only bounds an orphan whose parent died first.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: CrashWriter DB_PATH WRITERS [MAX_SECONDS]");
    return 2;
}

var databasePath = args[0];
var writers = int.Parse(args[1], CultureInfo.InvariantCulture);
var maxSeconds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 30;
using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(maxSeconds));

await using var storage = new SqliteGrainStorage(new SqliteGrainStorageOptions { DatabasePath = databasePath });
var stdout = Console.Out;

async Task WriteForeverAsync(int index)
{
    var key = CrashRecord.Key(index);
    var existing = await storage.ReadAsync(key);
    long sequence = 0;
    string? etag = null;
    if (existing is not null)
    {
        if (!CrashRecord.TryDecode(existing.Data.Span, out _, out sequence))
            throw new InvalidDataException($"record {key} is damaged");
        etag = existing.ETag;
    }

    while (!stop.IsCancellationRequested)
    {
        sequence++;
        etag = await storage.WriteAsync(key, CrashRecord.Encode(key.GrainKey, sequence), etag);
        // Console.Out flushes every line, so the parent sees the acknowledgement as soon as it exists.
        stdout.WriteLine(FormattableString.Invariant($"ACK {key.GrainKey} {sequence}"));
    }
}

stdout.WriteLine("READY");
await Task.WhenAll(Enumerable.Range(0, writers).Select(i => Task.Run(() => WriteForeverAsync(i))));
return 0;
