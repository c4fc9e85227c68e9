using Entrupy.Device.Batch;

namespace Entrupy.Device.Tests;

/// <summary>Manifest parsing and the journal's file format, without a server.</summary>
public sealed class ManifestTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "entrupy-manifest-" + Guid.NewGuid().ToString("N")[..8]);

    public ManifestTests()
    {
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "a.jpg"), [1]);
        File.WriteAllBytes(Path.Combine(dir, "b.PNG"), [1]);
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private RegistrationLine? Parse(string text, out string? error, bool temporary = false)
    {
        var path = Path.Combine(dir, "m.csv");
        File.WriteAllText(path, text + "\n");
        var line = Assert.Single(Manifest.ReadLines(path, "customer_item_id"));
        return Manifest.ParseRegistration(line, dir, temporary, out error);
    }

    [Fact]
    public void Images_are_told_from_biz_step_and_location_by_their_extension()
    {
        var line = Parse("bag-1,a.jpg,b.PNG,urn:epcglobal:cbv:bizstep:shipping,https://example.com/dock", out var error);
        Assert.Null(error);
        Assert.Equal([Path.Combine(dir, "a.jpg"), Path.Combine(dir, "b.PNG")], line!.Images);
        Assert.Equal("shipping", line.BizStep);
        Assert.Equal("https://example.com/dock", line.Location);
    }

    [Theory]
    [InlineData("bag-1", "no image")]
    [InlineData("bag-1,notes.txt", "not an image path")]
    [InlineData("bag-1,a.jpg,shipping,https://example.com/x,extra", "at most bizStep and location")]
    [InlineData("bag-1,a.jpg,shipping,b.PNG", "images must come right after the id")]
    [InlineData("bag-1,a.jpg,shipping,dock 4", "must be an SGLN EPC URI")]
    [InlineData("bag-1,c.jpg", "image not found")]
    [InlineData(".bag,a.jpg", "not a valid customer_item_id")]
    [InlineData("bag-1,\"a.jpg", "unterminated quoted field")]
    public void Bad_lines_say_what_is_wrong(string text, string reason)
    {
        Assert.Null(Parse(text, out var error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void Header_blank_and_comment_lines_are_skipped_with_line_numbers_kept()
    {
        var path = Path.Combine(dir, "h.csv");
        File.WriteAllLines(path, ["Customer_Item_Id,image", "", "# note", "x,a.jpg", "y,a.jpg"]);
        Assert.Equal([4, 5], Manifest.ReadLines(path, "customer_item_id").Select(l => l.LineNumber));
    }

    [Fact]
    public void A_journal_cut_mid_record_reopens_keeping_every_complete_record_and_the_same_keys()
    {
        var manifest = Path.Combine(dir, "j.csv");
        File.WriteAllLines(manifest, ["x,a.jpg", "y,a.jpg"]);
        var lines = Manifest.ReadLines(manifest, "customer_item_id");
        var journalPath = BatchJournal.DefaultPathFor(manifest);
        string key;
        using (var journal = BatchJournal.Open(journalPath, "register", temporary: false, manifest))
        {
            key = journal.Start(lines[0], () => new JournalRecord { Key = journal.IdempotencyKeyFor(lines[0]), At = DateTimeOffset.Now }).Key!;
            journal.MarkDone(lines[0], new JournalRecord { Id = "x", Registration = 1 });
            journal.Start(lines[1], () => new JournalRecord { Key = journal.IdempotencyKeyFor(lines[1]) });
        }
        File.AppendAllText(journalPath, "{\"type\":\"done\",\"li"); // a kill in the middle of a write

        using (var journal = BatchJournal.Open(journalPath, "register", temporary: false, manifest))
        {
            Assert.Equal(1, journal.IgnoredLines);
            Assert.NotNull(journal.Done(lines[0]));
            Assert.Null(journal.Done(lines[1]));
            Assert.Equal(key, journal.IdempotencyKeyFor(lines[0]));
            var again = journal.Start(lines[1], () => throw new InvalidOperationException("an in-flight line keeps its first record"));
            Assert.Equal(journal.IdempotencyKeyFor(lines[1]), again.Key);
            journal.MarkDone(lines[1], new JournalRecord { Id = "y" });
        }
        using (var journal = BatchJournal.Open(journalPath, "register", temporary: false, manifest))
        {
            Assert.NotNull(journal.Done(lines[1]));
        }
        Assert.Throws<JournalMismatchException>(() => BatchJournal.Open(journalPath, "link", temporary: false, manifest));
    }

    [Fact]
    public void An_edited_line_is_not_taken_for_done()
    {
        var manifest = Path.Combine(dir, "e.csv");
        File.WriteAllLines(manifest, ["x,a.jpg"]);
        var journalPath = BatchJournal.DefaultPathFor(manifest);
        using (var journal = BatchJournal.Open(journalPath, "register", false, manifest))
            journal.MarkDone(Manifest.ReadLines(manifest, "customer_item_id")[0], new JournalRecord { Id = "x" });
        File.WriteAllLines(manifest, ["x,b.PNG"]);
        using var reopened = BatchJournal.Open(journalPath, "register", false, manifest);
        Assert.Null(reopened.Done(Manifest.ReadLines(manifest, "customer_item_id")[0]));
    }
}
