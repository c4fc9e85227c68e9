using System.Text;
using System.Text.Json;
using Entrupy.Device.Cli;

namespace Entrupy.Device.Tests;

/// <summary>batch register / batch link against a real silo: bad lines, kill and resume, temporary ids.</summary>
[Collection(CliCollection.Name)]
public sealed class BatchTests(CliFixture silo)
{
    private string NewDir()
    {
        var dir = Path.Combine(silo.DataDir, "batch-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Fact]
    public async Task Bad_lines_are_reported_by_line_number_while_the_rest_is_registered()
    {
        var dir = NewDir();
        var prefix = "b" + Guid.NewGuid().ToString("N")[..6];
        var local = "a" + Path.GetExtension(DevSet.Gallery(25));
        File.Copy(DevSet.Gallery(25), Path.Combine(dir, local));
        var manifest = Path.Combine(dir, "m.csv");
        File.WriteAllLines(manifest,
        [
            "customer_item_id,image,biz_step,location",                                    // 1 header
            $"{prefix}-1,{local},commissioning,urn:epc:id:sgln:0614141.07346.1234",          // 2 ok (relative path)
            $"{prefix}-2,{DevSet.Gallery(26)}",                                              // 3 ok
            $"{prefix}/3,{DevSet.Gallery(27)}",                                              // 4 bad id
            $"{prefix}-4,{Path.Combine(dir, "missing.jpg")}",                                // 5 missing file
            "",                                                                              // 6 blank
            "# a comment",                                                                   // 7 comment
            $"{prefix}-5,{DevSet.Gallery(28)},teleporting",                                  // 8 bad bizStep
            $"{prefix}-6,\"{DevSet.Gallery(29)}\",receiving,https://example.com/dock-4",     // 9 ok (quoted)
            $"{prefix}-7",                                                                   // 10 no image
        ]);

        var run = await silo.RunAsync("batch", "register", "--manifest", manifest, "--concurrency", "3", "--json");
        Assert.True(run.ExitCode == ExitCodes.PartialFailure, run.ToString());
        CommandTests.AssertSchema(run.Json, "batch register", ExitCodes.PartialFailure);
        var json = run.Json;
        Assert.Equal(7, json.GetProperty("total").GetInt32());
        Assert.Equal(3, json.GetProperty("succeeded").GetInt32());
        Assert.Equal(4, json.GetProperty("failed").GetInt32());
        var failures = json.GetProperty("failures").EnumerateArray().ToArray();
        Assert.Equal([4, 5, 8, 10], failures.Select(f => f.GetProperty("line").GetInt32()));
        Assert.All(failures, f => Assert.Equal("bad_input", f.GetProperty("kind").GetString()));
        Assert.Contains("line 4", run.Err);
        Assert.Contains("batch register: 7/7 (100.0%) ok=3 failed=4", run.Err); // the plain progress line (stdout is not a terminal)
        Assert.Contains("line 8", run.Err);

        var first = await silo.GetItemAsync($"{prefix}-1");
        Assert.Equal("commissioning", first.GetProperty("custody")[0].GetProperty("biz_step").GetString());
        var ninth = await silo.GetItemAsync($"{prefix}-6");
        Assert.Equal("https://example.com/dock-4", ninth.GetProperty("custody")[0].GetProperty("read_point_id").GetString());

        // A re-run skips the done lines and tries the bad ones again (they fail again).
        var again = await silo.RunAsync("batch", "register", "--manifest", manifest, "--json");
        Assert.True(again.ExitCode == ExitCodes.PartialFailure, again.ToString());
        Assert.Equal(3, again.Json.GetProperty("skipped").GetInt32());
        Assert.Equal(0, again.Json.GetProperty("succeeded").GetInt32());
        Assert.Equal(1, (await silo.GetItemAsync($"{prefix}-2")).GetProperty("lineage").GetArrayLength());
    }

    [Fact]
    public async Task A_batch_killed_midway_resumes_without_redoing_or_losing_items()
    {
        var dir = NewDir();
        var prefix = "k" + Guid.NewGuid().ToString("N")[..6];
        const int count = 120;
        var manifest = Path.Combine(dir, "kill.csv");
        var lines = new StringBuilder();
        for (var i = 0; i < count; i++) lines.AppendLine($"{prefix}-{i},{DevSet.Gallery(i % DevSet.GalleryCount)}");
        File.WriteAllText(manifest, lines.ToString());
        var journal = manifest + ".journal";

        using (var process = silo.StartProcess("batch", "register", "--manifest", manifest, "--concurrency", "1", "--progress-interval", "0.2"))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DoneCount(journal) < 3 && !process.HasExited && DateTime.UtcNow < deadline) await Task.Delay(20);
            Assert.False(process.HasExited, "the batch finished before it could be killed");
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        var doneAtKill = DoneCount(journal);
        Assert.InRange(doneAtKill, 3, count - 1);

        var resumed = await silo.RunAsync("batch", "register", "--manifest", manifest, "--concurrency", "4", "--json");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var json = resumed.Json;
        Assert.Equal(count, json.GetProperty("total").GetInt32());
        Assert.Equal(doneAtKill, json.GetProperty("skipped").GetInt32());
        Assert.Equal(count - doneAtKill, json.GetProperty("succeeded").GetInt32());
        Assert.Equal(0, json.GetProperty("failed").GetInt32());

        // Every item exactly once: registered, lineage length 1 (an in-flight line was replayed, not registered again).
        for (var i = 0; i < count; i++)
        {
            var item = await silo.GetItemAsync($"{prefix}-{i}");
            Assert.True(item.GetProperty("lineage").GetArrayLength() == 1, $"{prefix}-{i}: {item}");
        }
        Assert.Equal(count, DoneCount(journal));
    }

    [Fact]
    public async Task Temporary_ids_are_journalled_and_linked_later_by_a_link_manifest()
    {
        var dir = NewDir();
        var manifest = Path.Combine(dir, "intake.csv");
        File.WriteAllLines(manifest, ["bin-1," + DevSet.Gallery(0), "bin-2," + DevSet.Gallery(1)]);
        var run = await silo.RunAsync("batch", "register", "--manifest", manifest, "--temporary", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var temps = run.Json.GetProperty("temporary_items").EnumerateArray().ToArray();
        Assert.Equal(["bin-1", "bin-2"], temps.Select(t => t.GetProperty("reference").GetString()));
        var tempIds = temps.Select(t => t.GetProperty("temporary_id").GetString()!).ToArray();
        Assert.All(tempIds, t => Assert.StartsWith("tmp-", t));
        Assert.Equal(1, (await silo.GetItemAsync(tempIds[0])).GetProperty("lineage").GetArrayLength());

        // The same journal without --temporary is refused (ids would change meaning).
        var mismatch = await silo.RunAsync("batch", "register", "--manifest", manifest);
        Assert.Equal(ExitCodes.BadInput, mismatch.ExitCode);

        var perm = "p" + Guid.NewGuid().ToString("N")[..6];
        var links = Path.Combine(dir, "links.csv");
        File.WriteAllLines(links, ["temporary_id,permanent_id,reason", $"{tempIds[0]},{perm}-1,tagged", $"{tempIds[1]},{perm}-2", "bad id,x"]);
        var linked = await silo.RunAsync("batch", "link", "--manifest", links, "--json");
        Assert.True(linked.ExitCode == ExitCodes.PartialFailure, linked.ToString());
        CommandTests.AssertSchema(linked.Json, "batch link", ExitCodes.PartialFailure);
        Assert.Equal(2, linked.Json.GetProperty("succeeded").GetInt32());
        Assert.Equal(4, linked.Json.GetProperty("failures")[0].GetProperty("line").GetInt32());
        var permanent = await silo.GetItemAsync($"{perm}-1");
        Assert.Equal(tempIds[0], permanent.GetProperty("linked_from")[0].GetProperty("customer_item_id").GetString());
    }

    private static int DoneCount(string journal)
    {
        if (!File.Exists(journal)) return 0;
        using var stream = new FileStream(journal, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var n = 0;
        while (reader.ReadLine() is { } line)
        {
            try { if (JsonDocument.Parse(line).RootElement.GetProperty("type").GetString() == "done") n++; }
            catch (JsonException) { }
        }
        return n;
    }
}
