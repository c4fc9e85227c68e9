using System.Text.Json;
using Orleans;
using Entrupy.Storage;
using Orleans.Storage;
using Entrupy.Tenancy;
using Entrupy.Webhooks;
using Entrupy.TestSupport;

namespace Entrupy.Webhooks.Tests;

/// <summary>The publisher the item endpoints will call, and the retry schedule, in-process against the silo's own grains.</summary>
public sealed class WebhookPublisherTests
{
    [Fact]
    public async Task PublishQueuesOneDeliveryPerSubscriptionOfThatKindOnly()
    {
        await using var cluster = await TestSilo.StartAsync(s => s.AddMemoryGrainStorageAsDefault());
        var grains = cluster.GrainFactory;
        var tenant = grains.GetGrain<ITenantGrain>("ten_00000000000000aa");
        await tenant.Create("publisher", DateTimeOffset.UtcNow);
        WebhookSubscription Subscription(string id, params string[] events) =>
            new(id, "http://127.0.0.1:9/", events, "whsec_x", null, DateTimeOffset.UtcNow);
        await tenant.AddSubscription(Subscription("whk_0000000000000001", WebhookEventKinds.RegistrationCompleted, WebhookEventKinds.CustodyEventAdded));
        await tenant.AddSubscription(Subscription("whk_0000000000000002", WebhookEventKinds.ComparisonCompleted));
        await tenant.AddSubscription(Subscription("whk_0000000000000003", WebhookEventKinds.CustodyEventAdded));

        IWebhookPublisher publisher = new WebhookPublisher(grains, TimeProvider.System);
        var (eventId, deliveries) = await publisher.PublishAsync(tenant.GetPrimaryKeyString(), WebhookEventKinds.CustodyEventAdded, new { ItemId = "item-7", Handler = "lab" });

        Assert.Equal(2, deliveries);
        var outbox = grains.GetGrain<IWebhookOutboxGrain>(WebhookOutboxGrain.Key);
        var pending = await outbox.LeaseDue(DateTimeOffset.UtcNow.AddSeconds(1), 10, TimeSpan.FromMinutes(1));
        Assert.Equal(["whk_0000000000000001", "whk_0000000000000003"], pending.Select(p => p.SubscriptionId).Order());
        Assert.All(pending, p => Assert.Equal(eventId, p.EventId));
        using var body = JsonDocument.Parse(pending[0].Body);
        Assert.Equal(WebhookEventKinds.CustodyEventAdded, body.RootElement.GetProperty("type").GetString());
        Assert.Equal("item-7", body.RootElement.GetProperty("data").GetProperty("item_id").GetString());

        // Leased entries are not handed out twice; a retry is rescheduled, a success removed.
        Assert.Empty(await outbox.LeaseDue(DateTimeOffset.UtcNow.AddSeconds(1), 10, TimeSpan.FromMinutes(1)));
        await outbox.Remove(pending[0].Id);
        await outbox.Reschedule(pending[1].Id, DateTimeOffset.UtcNow.AddHours(1));
        Assert.Equal(1, await outbox.Count());
        Assert.Empty(await outbox.LeaseDue(DateTimeOffset.UtcNow.AddSeconds(1), 10, TimeSpan.FromMinutes(1)));

        await Assert.ThrowsAsync<ArgumentException>(() => publisher.PublishAsync(tenant.GetPrimaryKeyString(), "no.such.kind", new { }));
    }

    [Fact]
    public void BackoffDoublesIsCappedAndJittersUpward()
    {
        var options = new WebhookOptions { BaseDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(30), JitterFraction = 0.2 };
        var samples = Enumerable.Range(0, 200).Select(_ => WebhookDispatcher.Backoff(1, options).TotalSeconds).ToArray();
        Assert.All(samples, s => Assert.InRange(s, 1.0, 1.2));
        Assert.True(samples.Distinct().Count() > 100, "no jitter");
        Assert.InRange(WebhookDispatcher.Backoff(4, options).TotalSeconds, 8.0, 9.6);
        Assert.InRange(WebhookDispatcher.Backoff(20, options).TotalSeconds, 30.0, 36.0);
    }
}
