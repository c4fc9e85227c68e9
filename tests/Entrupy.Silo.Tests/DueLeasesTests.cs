using Entrupy.Silo.Hosting;
using Entrupy.Storage;

namespace Entrupy.Silo.Tests;

/// <summary>The in-memory leases the webhook outbox and the authentication job list hand their due items out with.</summary>
public sealed class DueLeasesTests
{
    private sealed record Item(string Id, DateTimeOffset Due, DateTimeOffset Created);

    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Due_items_go_out_earliest_first_once_per_lease_and_again_after_it_ends_or_is_released()
    {
        var items = new List<Item>
        {
            new("late", T0.AddMinutes(5), T0),
            new("b", T0, T0.AddSeconds(2)),
            new("a", T0, T0.AddSeconds(1)),
            new("early", T0.AddMinutes(-1), T0.AddSeconds(3)),
        };
        var leases = new DueLeases<Item>(i => i.Id, i => i.Due, i => i.Created);

        Assert.Equal(["early", "a"], leases.LeaseDue(items, T0, 2, TimeSpan.FromSeconds(30)).Select(i => i.Id));
        Assert.Equal(["b"], leases.LeaseDue(items, T0, 10, TimeSpan.FromSeconds(30)).Select(i => i.Id));   // not due: "late"
        Assert.Empty(leases.LeaseDue(items, T0.AddSeconds(10), 10, TimeSpan.FromSeconds(30)));            // all leased

        leases.Release("a");
        Assert.Equal(["a"], leases.LeaseDue(items, T0.AddSeconds(10), 10, TimeSpan.FromSeconds(30)).Select(i => i.Id));
        // Leases of "early" and "b" end at T0+30 s; "a" was leased again until T0+40 s.
        Assert.Equal(["early", "b"], leases.LeaseDue(items, T0.AddSeconds(30), 10, TimeSpan.FromSeconds(30)).Select(i => i.Id));
    }

    [Fact]
    public void Without_a_tie_break_items_due_together_keep_their_list_order()
    {
        var items = new List<Item> { new("b", T0, T0.AddSeconds(2)), new("a", T0, T0.AddSeconds(1)) };
        Assert.Equal(["b", "a"], new DueLeases<Item>(i => i.Id, i => i.Due).LeaseDue(items, T0, 10, TimeSpan.FromSeconds(1)).Select(i => i.Id));
    }
}
