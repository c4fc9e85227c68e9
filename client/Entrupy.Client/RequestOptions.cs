namespace Entrupy.Client;

/// <summary>Per-call settings of a POST.</summary>
public sealed record RequestOptions
{
    /// <summary>
    /// The <c>Idempotency-Key</c> to send (1-255 printable ASCII characters). Null: the client makes a new GUID for the call.
    /// Either way the same key is sent on every retry of the call, so the silo runs it at most once. Pass your own key
    /// to make a call safe to repeat across process restarts (e.g. from a device's upload queue).
    /// </summary>
    public string? IdempotencyKey { get; init; }
}
