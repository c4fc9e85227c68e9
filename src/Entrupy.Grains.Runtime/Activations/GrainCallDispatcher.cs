using System.Diagnostics;
using Entrupy.Grains.Invocation;
using Entrupy.Grains.Runtime.Cluster;

namespace Entrupy.Grains.Runtime.Activations;

/// <summary>
/// Turns a call on a grain reference into a turn of an activation. The path of one call:
/// <list type="number">
/// <item>copy the arguments through the serializer (when <see cref="SiloOptions.RoundTripCallsThroughSerializer"/>);</item>
/// <item>find the route: the reference's cached one, else directory → placement → catalog (or transport when remote);</item>
/// <item>if the activation is idle, run the turn inline on this thread and return its result directly (no queue,
/// no allocation besides the request object when the grain completes synchronously);</item>
/// <item>otherwise queue a pooled <see cref="RequestMessage{T}"/> (refused with a <see cref="DeadlockException"/> when waiting
/// would close a cycle) and return it as the caller's awaitable, expired by <see cref="ResponseTimeouts"/>.</item>
/// </list>
/// </summary>
internal sealed class GrainCallDispatcher(SiloRuntime runtime) : IGrainCallInvoker
{
    private readonly bool _roundTrip = runtime.Options.RoundTripCallsThroughSerializer;
    private readonly TimeSpan _defaultTimeout = runtime.Options.DefaultResponseTimeout;

    public ValueTask<TResult> InvokeAsync<TResult>(GrainReference target, GrainInvokable<TResult> request)
    {
        var route = Route(target, out var classInfo, out var remote);
        if (route is null) return SendRemote(remote!, target, request);
        var pending = InvokeLocal(route, target, request, classInfo!, out var result, out var error);
        if (pending is not null) return pending.AsValueTask();
        return error is null ? new ValueTask<TResult>(result) : ValueTask.FromException<TResult>(error);
    }

    public ValueTask InvokeVoidAsync(GrainReference target, GrainInvokable<NoResult> request)
    {
        var route = Route(target, out var classInfo, out var remote);
        if (route is null) return new ValueTask(SendRemote(remote!, target, request).AsTask());
        var pending = InvokeLocal(route, target, request, classInfo!, out _, out var error);
        if (pending is not null) return pending.AsVoidValueTask();
        return error is null ? default : ValueTask.FromException(error);
    }

    public TimeSpan ResponseTimeoutOf(GrainMethodDescriptor method) => method.ResponseTimeout ?? _defaultTimeout;

    private ILocalRoute? Route(GrainReference target, out GrainClassInfo? classInfo, out SiloAddress? remote)
    {
        remote = null;
        if (target.RoutingCache is CachedRoute cached && cached.Route.IsValid)
        {
            classInfo = cached.ClassInfo;
            return cached.Route;
        }
        var grainId = target.GrainId;
        classInfo = runtime.GetClassInfo(grainId.Type);
        ILocalRoute route;
        if (classInfo.IsStatelessWorker)
        {
            route = runtime.Catalog.GetOrCreatePool(grainId, classInfo); // stateless workers are always local
        }
        else
        {
            var silo = runtime.Directory.Lookup(grainId) ?? runtime.Directory.Register(grainId, runtime.Placement.PlaceActivation(grainId));
            if (silo != runtime.LocalSilo.Address)
            {
                remote = silo;
                return null;
            }
            route = runtime.Catalog.GetOrCreate(grainId, classInfo);
        }
        target.RoutingCache = new CachedRoute(route, classInfo);
        return route;
    }

    private RequestMessage<TResult>? InvokeLocal<TResult>(ILocalRoute route, GrainReference target, GrainInvokable<TResult> request,
        GrainClassInfo classInfo, out TResult result, out Exception? error)
    {
        result = default!;
        error = null;
        var start = Stopwatch.GetTimestamp();
        var method = request.Method;
        if (_roundTrip && !TryRoundTripArguments(request, out error))
        {
            classInfo.Counters.RecordCall(start, failed: true);
            return null;
        }
        var caller = CallContext.Current;
        var interleaves = method.AlwaysInterleave || classInfo.IsReentrant;
        for (var attempt = 0; ; attempt++)
        {
            var activation = route.Select(interleaves, out var claimed);
            if (claimed) return RunInline(activation, target, request, caller, classInfo, interleaves, start, out result, out error);

            var message = RequestMessage<TResult>.Rent(this, target, request, caller, classInfo, interleaves, start);
            var token = message.Token;
            switch (activation.TryEnqueue(message, caller))
            {
                case Activation.EnqueueResult.Enqueued:
                    runtime.Timeouts.Register(message, token, ResponseTimeoutOf(method));
                    return message;
                case Activation.EnqueueResult.Deadlock:
                    message.ReturnUnused();
                    error = new DeadlockException([.. caller!.Chain(), target.GrainId], method.DisplayName);
                    classInfo.Counters.RecordCall(start, failed: true);
                    return null;
                default:
                    message.ReturnUnused();
                    if (attempt > 100) throw new InvalidOperationException($"Could not deliver {method.DisplayName} to {target.GrainId}: activations keep going away.");
                    target.RoutingCache = null;
                    route = Route(target, out var refreshed, out var remote) ?? throw new InvalidOperationException(
                        $"Grain {target.GrainId} moved to silo {remote} while delivering {method.DisplayName}.");
                    classInfo = refreshed!;
                    continue;
            }
        }
    }

    private RequestMessage<TResult>? RunInline<TResult>(Activation activation, GrainReference target, GrainInvokable<TResult> request,
        CallContext? caller, GrainClassInfo classInfo, bool interleaves, long start, out TResult result, out Exception? error)
    {
        result = default!;
        error = null;
        var method = request.Method;
        if (request.CancellationToken.IsCancellationRequested)
        {
            activation.ExitFast(turnCompleted: true);
            error = new OperationCanceledException(request.CancellationToken);
            classInfo.Counters.RecordCall(start, failed: true);
            return null;
        }
        var running = activation.StartRequest(request, caller);
        if (running.IsCompleted)
        {
            try
            {
                result = running.GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                error = ex;
            }
            activation.ExitFast(turnCompleted: true);
            if (error is null) TryRoundTripResult(ref result, method, out error);
            classInfo.Counters.RecordCall(start, failed: error is not null);
            return null;
        }
        // The grain went async: track the rest of the turn with a message, like a queued call.
        var message = RequestMessage<TResult>.Rent(this, target, request, caller, classInfo, interleaves, start);
        var token = message.Token;
        message.Attach(activation, running);
        activation.ExitFast(turnCompleted: false);
        runtime.Timeouts.Register(message, token, ResponseTimeoutOf(method));
        return message;
    }

    /// <summary>Delivers again a message whose activation went away before running it.</summary>
    public void Redeliver<TResult>(RequestMessage<TResult> message)
    {
        try
        {
            var target = message.Target;
            target.RoutingCache = null;
            for (var attempt = 0; attempt < 100; attempt++)
            {
                var route = Route(target, out _, out var remote) ?? throw new InvalidOperationException(
                    $"Grain {target.GrainId} moved to silo {remote}; forwarding queued calls between silos is not implemented.");
                var activation = route.Select(message.Interleaves, out var claimed);
                if (claimed)
                {
                    // Run it as a queued turn would, on this activation we just claimed.
                    message.Attach(activation, activation.StartRequest(message.Request, message.Caller));
                    activation.ExitFast(turnCompleted: false);
                    return;
                }
                switch (activation.TryEnqueue(message, message.Caller))
                {
                    case Activation.EnqueueResult.Enqueued:
                        return;
                    case Activation.EnqueueResult.Deadlock:
                        message.Abandon(new DeadlockException([.. message.Caller!.Chain(), target.GrainId], message.Request.Method.DisplayName));
                        return;
                    default:
                        target.RoutingCache = null;
                        continue;
                }
            }
            throw new InvalidOperationException($"Could not deliver {message.Request.Method.DisplayName} to {target.GrainId}: activations keep going away.");
        }
        catch (Exception ex)
        {
            message.Abandon(ex);
        }
    }

    private bool TryRoundTripArguments(GrainInvokable request, out Exception? error)
    {
        try
        {
            request.RoundTripArguments(runtime.Serializer);
            error = null;
            return true;
        }
        catch (GrainSerializationException ex)
        {
            error = ex;
            return false;
        }
    }

    /// <summary>Copies a result through the serializer when the silo round-trips calls.</summary>
    public bool TryRoundTripResult<TResult>(ref TResult result, GrainMethodDescriptor method, out Exception? error)
    {
        error = null;
        if (!_roundTrip || typeof(TResult) == typeof(NoResult)) return true;
        try
        {
            result = runtime.Serializer.RoundTrip(result, method);
            return true;
        }
        catch (GrainSerializationException ex)
        {
            error = ex;
            return false;
        }
    }

    private ValueTask<TResult> SendRemote<TResult>(SiloAddress silo, GrainReference target, GrainInvokable<TResult> request)
    {
        var chain = CallContext.Current?.Chain() ?? [];
        return runtime.Transport.SendRequestAsync(silo, target.GrainId, request, chain, ResponseTimeoutOf(request.Method));
    }

    /// <summary>What a reference remembers about where its calls go.</summary>
    private sealed record CachedRoute(ILocalRoute Route, GrainClassInfo ClassInfo);
}
