using Orleans;

namespace Entrupy.Registry;

/// <summary>Grain factory helpers for registry grains.</summary>
public static class RegistryGrainFactoryExtensions
{
    /// <summary>The item grain for <paramref name="key"/> (cheap: activates nothing).</summary>
    public static IItemGrain GetItemGrain(this IGrainFactory factory, ItemKey key)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return factory.GetGrain<IItemGrain>(key.ToString());
    }

    /// <summary>The item grain for a tenant's customer item id, validating both.</summary>
    /// <exception cref="InvalidIdentifierException">An id breaks its rule.</exception>
    public static IItemGrain GetItemGrain(this IGrainFactory factory, string tenantId, string customerItemId) =>
        factory.GetItemGrain(ItemKey.Create(tenantId, customerItemId));
}
