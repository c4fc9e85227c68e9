namespace Entrupy.Storage;

/// <summary>Names of the storage providers the registry's grains use.</summary>
public static class StorageNames
{
    /// <summary>
    /// The provider behind <c>[PersistentState(name)]</c> without a storage name, and behind every
    /// <see cref="RecordStore"/>: Orleans' default provider name.
    /// </summary>
    public const string Default = Orleans.Providers.ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME;
}
