using System.Net;
using Entrupy.Webhooks;

namespace Entrupy.Silo.Tests;

/// <summary>Tests that need their own silo process: restarts and configuration.</summary>
public sealed class DurabilityTests : IDisposable
{
    private readonly string dataDir = Path.Combine(Path.GetTempPath(), "entrupy-api-durable-" + Guid.NewGuid().ToString("N")[..8]);

    public DurabilityTests() => Directory.CreateDirectory(dataDir);

    public void Dispose()
    {
        try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task AnUndeliveredOutboxEntrySurvivesASiloRestart()
    {
        var db = Path.Combine(dataDir, "silo.db");
        var port = Api.FreePort();
        string id, secret, tenantKey, eventId;
        await using (var first = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), ApiSilo.Arguments(db)))
        {
            using var admin = Api.Client(first.BaseAddress, ApiSilo.AdminKey);
            var tenant = await admin.CreateTenantAsync("restart");
            tenantKey = tenant.Key;
            var created = await (await tenant.Client.PostJsonAsync("/webhooks",
                new { url = $"http://127.0.0.1:{port}/hook", events = new[] { "comparison.completed" } })).JsonAsync(HttpStatusCode.Created);
            id = created.GetProperty("id").GetString()!;
            secret = created.GetProperty("secret").GetString()!;
            eventId = (await (await tenant.Client.PostJsonAsync($"/webhooks/{id}/ping", new { })).JsonAsync(HttpStatusCode.Accepted)).GetProperty("event_id").GetString()!;
            await tenant.Client.WaitForDeliveriesAsync(id, log => log.Length >= 1, TimeSpan.FromSeconds(15));
        } // killed with the delivery still pending

        using var receiver = new WebhookReceiver(port);
        Assert.Empty(receiver.Received);
        await using var second = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), ApiSilo.Arguments(db));
        var delivery = receiver.WaitForOne(TimeSpan.FromSeconds(20));
        Assert.Equal(eventId, delivery.Headers[WebhookSignature.EventIdHeader]);
        Assert.True(WebhookSignature.Verify(secret, delivery.Headers[WebhookSignature.TimestampHeader], delivery.Body,
            delivery.Headers[WebhookSignature.SignatureHeader], TimeSpan.FromMinutes(5)));

        // The tenant's key and the delivery log survived too.
        using var client = Api.Client(second.BaseAddress, tenantKey);
        var log = await client.WaitForDeliveriesAsync(id, l => l.Any(a => a.GetProperty("succeeded").GetBoolean()), TimeSpan.FromSeconds(10));
        Assert.False(log[0].GetProperty("succeeded").GetBoolean());
    }

    [Fact]
    public async Task WithoutABootstrapKeyTheAdminEndpointsSayHowToEnableThem()
    {
        await using var silo = await SiloProcess.StartAsync(TimeSpan.FromSeconds(60), ApiSilo.Arguments(Path.Combine(dataDir, "noadmin.db"), withAdmin: false));
        using var client = Api.Client(silo.BaseAddress, "anything");
        var problem = await (await client.PostJsonAsync("/admin/tenants", new { name = "x" })).ProblemAsync(403, "admin-disabled");
        Assert.Contains("Admin:BootstrapKey", problem.GetProperty("detail").GetString());
        Assert.Contains("ENTRUPY_BOOTSTRAP_KEY", problem.GetProperty("detail").GetString());
    }
}
