using System.Text;
using System.Text.Json;

namespace Entrupy.Storage.Tests;

public sealed class EntrupyGrainStateSerializerTests
{
    public sealed class Item
    {
        public string Name { get; set; } = "";

        public int ScanCount { get; set; }

        public List<string> Tags { get; set; } = [];
    }

    private readonly EntrupyGrainStateSerializer _serializer = new();

    [Fact]
    public void BinaryRecord_is_stored_as_its_raw_bytes_both_ways()
    {
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var serialized = _serializer.Serialize(new BinaryRecord { Data = bytes });
        Assert.Equal(bytes, serialized.ToArray()); // no JSON, no base64

        var back = _serializer.Deserialize<BinaryRecord>(new BinaryData(bytes));
        Assert.Equal(bytes, back.Data);
        Assert.Empty(_serializer.Deserialize<BinaryRecord>(new BinaryData(Array.Empty<byte>())).Data);
        // Bytes that look like JSON null are still just bytes for a raw record.
        Assert.Equal("null"u8.ToArray(), _serializer.Deserialize<BinaryRecord>(new BinaryData("null"u8.ToArray())).Data);
    }

    [Fact]
    public void Other_state_is_web_default_json_and_round_trips()
    {
        var item = new Item { Name = "bag", ScanCount = 3, Tags = ["leather"] };
        var json = Encoding.UTF8.GetString(_serializer.Serialize(item).ToArray());
        Assert.Equal("""{"name":"bag","scanCount":3,"tags":["leather"]}""", json);

        var back = _serializer.Deserialize<Item>(new BinaryData("""{"NAME":"bag","scancount":3,"tags":["leather"],"unknown":1}"""u8.ToArray()));
        Assert.Equal("bag", back.Name); // web defaults: case-insensitive, unknown members ignored
        Assert.Equal(3, back.ScanCount);
        Assert.Equal(["leather"], back.Tags);

        Assert.Equal(41, _serializer.Deserialize<int>(_serializer.Serialize(41)));
        var map = _serializer.Deserialize<Dictionary<string, double>>(_serializer.Serialize(new Dictionary<string, double> { ["x"] = 1.5 }));
        Assert.Equal(1.5, map["x"]);
    }

    [Fact]
    public void Stored_json_null_fails_clearly_naming_the_type()
    {
        var error = Assert.Throws<GrainStorageException>(() => _serializer.Deserialize<Item>(new BinaryData("null"u8.ToArray())));
        Assert.Contains(nameof(Item), error.Message);
        Assert.Contains("null", error.Message);
    }

    [Fact]
    public void Malformed_json_fails_with_the_json_error()
    {
        Assert.ThrowsAny<JsonException>(() => _serializer.Deserialize<Item>(new BinaryData("{not json"u8.ToArray())));
    }
}
