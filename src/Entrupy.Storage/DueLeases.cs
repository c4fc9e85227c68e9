namespace Entrupy.Storage;

/// <summary>
/// Leases over a grain's durable list of items that fall due (webhook deliveries, authentication jobs): an item handed
/// to a runner is not handed out again until its lease ends or it is rescheduled or removed. In memory only: a
/// restarted silo has no runner holding anything, so every item is free to take again. Used from the grain's turns.
/// </summary>
/// <param name="idOf">An item's id.</param>
/// <param name="dueAt">When an item falls due; the earliest are handed out first.</param>
/// <param name="thenBy">Order among items due at the same time (default: their order in the list).</param>
public sealed class DueLeases<T>(Func<T, string> idOf, Func<T, DateTimeOffset> dueAt, Func<T, DateTimeOffset>? thenBy = null)
{
    private readonly Dictionary<string, DateTimeOffset> leasedUntil = [];

    /// <summary>Up to <paramref name="max"/> items due at <paramref name="now"/> and not leased, each leased for <paramref name="leaseFor"/>.</summary>
    public T[] LeaseDue(IEnumerable<T> items, DateTimeOffset now, int max, TimeSpan leaseFor)
    {
        var due = items.Where(i => dueAt(i) <= now && (!leasedUntil.TryGetValue(idOf(i), out var until) || until <= now)).OrderBy(dueAt);
        var taken = (thenBy is null ? due : due.ThenBy(thenBy)).Take(max).ToArray();
        foreach (var item in taken) leasedUntil[idOf(item)] = now + leaseFor;
        return taken;
    }

    /// <summary>Ends an item's lease (it was rescheduled or removed).</summary>
    public void Release(string id) => leasedUntil.Remove(id);
}
