using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Hosting;
using Orleans.Storage;

namespace Entrupy.Storage;

/// <summary>
/// Deactivates an activation whose call failed on storage (an ETag conflict, a store that did not answer, state that
/// does not deserialize), once that call ends. Its memory may then hold a change storage never acknowledged, or an ETag
/// storage no longer has; Orleans keeps such an activation alive, so every later write would fail again or, worse, a
/// later read would see memory storage never had. The next call gets a fresh activation that reads what storage holds.
/// </summary>
public sealed class StateWriteFailureFilter : IIncomingGrainCallFilter
{
    /// <inheritdoc />
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception exception) when (IsStorageFailure(exception))
        {
            context.TargetContext.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationError, exception,
                "A storage operation failed; the next call re-reads the state."));
            throw;
        }
    }

    /// <summary>Whether an exception (or one it wraps) comes from grain storage.</summary>
    public static bool IsStorageFailure(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is InconsistentStateException or StorageUnavailableException or GrainStorageException) return true;
            if (e.GetType().FullName is "Azure.RequestFailedException") return true;
        }
        return false;
    }
}

/// <summary>Registers how our grains use storage on a silo.</summary>
public static class StateWriteFailureFilterExtensions
{
    /// <summary>
    /// What every silo of ours needs from storage, whichever provider it uses: <see cref="EntrupyGrainStateSerializer"/>
    /// as the state serializer and <see cref="StateWriteFailureFilter"/>.
    /// </summary>
    public static ISiloBuilder AddEntrupyStorageConventions(this ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddSingleton<IGrainStorageSerializer, EntrupyGrainStateSerializer>();
        return silo.AddStateWriteFailureDeactivation();
    }

    /// <summary>Deactivates activations whose calls fail on storage (see <see cref="StateWriteFailureFilter"/>).</summary>
    public static ISiloBuilder AddStateWriteFailureDeactivation(this ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddSingleton<IIncomingGrainCallFilter, StateWriteFailureFilter>();
        return silo;
    }
}
