using System.Net;
using System.Text.Json;

namespace Entrupy.Silo.Tests;

public class HealthTests
{
    [Fact]
    public async Task HealthReportsEveryNativeEngineWithItsVersion()
    {
        await using var silo = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = silo.BaseAddress };

        using var response = await http.GetAsync("/health");
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("ok", json.RootElement.GetProperty("status").GetString());
        var engines = json.RootElement.GetProperty("engines");
        Assert.StartsWith("1.7.", engines.GetProperty("faiss").GetProperty("version").GetString());
        Assert.StartsWith("1.30.", engines.GetProperty("onnxruntime").GetProperty("version").GetString());
        var decoders = engines.GetProperty("image_decoders").GetProperty("version").GetString();
        Assert.Contains("jpeg", decoders, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("png", decoders, StringComparison.OrdinalIgnoreCase);
    }
}
