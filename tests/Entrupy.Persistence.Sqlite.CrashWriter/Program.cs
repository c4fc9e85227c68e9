using System.Globalization;
using Entrupy.Persistence.Sqlite;
using Entrupy.Persistence.Sqlite.CrashWriter;
using Entrupy.Storage;
using Orleans;

// usage: CrashWriter DB_PATH WRITERS [MAX_SECONDS]
// Each writer owns one grain and rewrites its state forever through SqliteGrainStorage (the Orleans IGrainStorage a
// silo uses), with sequence numbers that continue from what the file holds. "ACK key sequence" goes to stdout only
// after WriteStateAsync returned, i.e. after the write is durable. The parent test kills this process mid-stream;
// MAX_SECONDS only bounds an orphan whose parent died first.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: CrashWriter DB_PATH WRITERS [MAX_SECONDS]");
    return 2;
}

var databasePath = args[0];
var writers = int.Parse(args[1], CultureInfo.InvariantCulture);
var maxSeconds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 30;
using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(maxSeconds));

await using var storage = new SqliteGrainStorage(new SqliteGrainStorageOptions { DatabasePath = databasePath }, new EntrupyGrainStateSerializer());
var stdout = Console.Out;

async Task WriteForeverAsync(int index)
{
    var key = CrashRecord.Key(index);
    var grain = CrashRecord.Grain(key);
    var state = new GrainState<BinaryRecord>(new BinaryRecord());
    await storage.ReadStateAsync(CrashRecord.StateName, grain, state);
    long sequence = 0;
    if (state.RecordExists && !CrashRecord.TryDecode(state.State!.Data, out _, out sequence))
        throw new InvalidDataException($"record {key} is damaged");

    while (!stop.IsCancellationRequested)
    {
        sequence++;
        state.State = new BinaryRecord { Data = CrashRecord.Encode(key, sequence) };
        await storage.WriteStateAsync(CrashRecord.StateName, grain, state);
        // Console.Out flushes every line, so the parent sees the acknowledgement as soon as it exists.
        stdout.WriteLine(FormattableString.Invariant($"ACK {key} {sequence}"));
    }
}

stdout.WriteLine("READY");
await Task.WhenAll(Enumerable.Range(0, writers).Select(i => Task.Run(() => WriteForeverAsync(i))));
return 0;
