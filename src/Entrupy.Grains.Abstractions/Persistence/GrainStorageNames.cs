namespace Entrupy.Grains.Persistence;

/// <summary>Well-known storage provider names.</summary>
public static class GrainStorageNames
{
    /// <summary>
    /// The provider used when <see cref="PersistentStateAttribute.StorageName"/> is null.
    /// Providers are registered as keyed <see cref="IGrainStorage"/> services under their name.
    /// </summary>
    public const string Default = "Default";
}
