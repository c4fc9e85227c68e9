using Entrupy.Registry;
using Entrupy.Registry.Api;

namespace Entrupy.Device.Output;

// The --json payloads, one record per command. Field names are part of the CLI's contract (docs/cli.md lists them
// and tests/Entrupy.Device.Tests pins them): add fields, never rename or drop one. Nested objects keep the API's
// wire shapes (CaptureQuality, CustodyEvent, TraceMatch, AuthenticationResult, FingerprintRegistration).
// Deliberately not the API's response DTOs: these are flattened for scripts and versioned with the CLI, so an API
// change cannot silently change the CLI's output.

/// <summary><c>register</c> / <c>capture</c>: the new registration.</summary>
internal sealed record RegisterResult
{
    /// <summary>The item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>Lineage number of the new registration.</summary>
    public int RegistrationNumber { get; init; }

    /// <summary>Number of the registration it superseded, or null.</summary>
    public int? Superseded { get; init; }

    /// <summary>Fingerprint model id.</summary>
    public string ModelId { get; init; } = "";

    /// <summary>Fingerprint model version.</summary>
    public string ModelVersion { get; init; } = "";

    /// <summary>Capture time.</summary>
    public DateTimeOffset CapturedAt { get; init; }

    /// <summary>When the registry recorded it.</summary>
    public DateTimeOffset RegisteredAt { get; init; }

    /// <summary>Quality of each capture.</summary>
    public CaptureQuality[] Captures { get; init; } = [];

    /// <summary>The custody event recorded with it, or null.</summary>
    public CustodyEvent? CustodyEvent { get; init; }

    /// <summary>The Idempotency-Key sent (repeat it to retry safely).</summary>
    public string IdempotencyKey { get; init; } = "";

    /// <summary>Builds the result from the API's answer.</summary>
    public static RegisterResult From(RegistrationResponse r, string idempotencyKey) => new()
    {
        CustomerItemId = r.CustomerItemId,
        RegistrationNumber = r.Registration.Number,
        Superseded = r.Superseded,
        ModelId = r.Registration.ModelId,
        ModelVersion = r.Registration.ModelVersion,
        CapturedAt = r.Registration.CapturedAt,
        RegisteredAt = r.Registration.RegisteredAt,
        Captures = r.Captures,
        CustodyEvent = r.CustodyEvent,
        IdempotencyKey = idempotencyKey,
    };
}

/// <summary><c>compare</c>.</summary>
internal sealed record CompareResult
{
    /// <summary>The item compared with.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>The decision.</summary>
    public bool Match { get; init; }

    /// <summary>1:1 score.</summary>
    public double Score { get; init; }

    /// <summary>Operating threshold.</summary>
    public double Threshold { get; init; }

    /// <summary>Registration compared with.</summary>
    public int RegistrationNumber { get; init; }

    /// <summary>Model id and version.</summary>
    public string Model { get; init; } = "";

    /// <summary>Quality of each probe capture.</summary>
    public CaptureQuality[] Captures { get; init; } = [];
}

/// <summary><c>trace</c>.</summary>
internal sealed record TraceResult
{
    /// <summary>The matched item, or null.</summary>
    public TraceMatch? Match { get; init; }

    /// <summary>Best candidates, highest score first.</summary>
    public TraceMatch[] Candidates { get; init; } = [];

    /// <summary>Operating threshold.</summary>
    public double Threshold { get; init; }

    /// <summary>Model id and version.</summary>
    public string Model { get; init; } = "";

    /// <summary>Quality of each probe capture.</summary>
    public CaptureQuality[] Captures { get; init; } = [];
}

/// <summary><c>authenticate</c>.</summary>
internal sealed record AuthenticateResult
{
    /// <summary>The item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>True when the status is final (not pending) within the wait.</summary>
    public bool Final { get; init; }

    /// <summary>The authentication resource.</summary>
    public AuthenticationResult Authentication { get; init; } = new();
}

/// <summary><c>custody add</c>.</summary>
internal sealed record CustodyAddResult
{
    /// <summary>The item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>The recorded event.</summary>
    public CustodyEvent Event { get; init; } = new();
}

/// <summary><c>custody list</c>.</summary>
internal sealed record CustodyListResult
{
    /// <summary>The item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>Events in chain order.</summary>
    public CustodyEvent[] Events { get; init; } = [];

    /// <summary>The <c>--from</c> of the next page, or null at the end.</summary>
    public int? NextFrom { get; init; }
}

/// <summary><c>item show</c>.</summary>
internal sealed record ItemShowResult
{
    /// <summary>The item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>True once anything was recorded.</summary>
    public bool Exists { get; init; }

    /// <summary>The item's EPC.</summary>
    public string Epc { get; init; } = "";

    /// <summary>The current registration, or null.</summary>
    public FingerprintRegistration? CurrentRegistration { get; init; }

    /// <summary>Fingerprint lineage, oldest first.</summary>
    public FingerprintRegistration[] Lineage { get; init; } = [];

    /// <summary>Custody events.</summary>
    public CustodyEvent[] Custody { get; init; } = [];

    /// <summary>Authentications, oldest first.</summary>
    public AuthenticationResult[] Authentications { get; init; } = [];

    /// <summary>For a temporary item: what it was linked to.</summary>
    public LinkedItem? LinkedTo { get; init; }

    /// <summary>For a permanent item: temporary items linked into it.</summary>
    public LinkedItem[] LinkedFrom { get; init; } = [];

    /// <summary>Builds the result from the API's item view.</summary>
    public static ItemShowResult From(ItemView v) => new()
    {
        CustomerItemId = v.CustomerItemId,
        Exists = v.Exists,
        Epc = v.Epc,
        CurrentRegistration = v.CurrentRegistration,
        Lineage = v.Lineage,
        Custody = v.Custody,
        Authentications = v.Authentications,
        LinkedTo = v.LinkedTo,
        LinkedFrom = v.LinkedFrom,
    };
}

/// <summary><c>link</c>.</summary>
internal sealed record LinkResult
{
    /// <summary>The temporary item.</summary>
    public string TemporaryId { get; init; } = "";

    /// <summary>The permanent item.</summary>
    public string PermanentId { get; init; } = "";

    /// <summary>The temporary items now linked into the permanent one.</summary>
    public LinkedItem[] LinkedFrom { get; init; } = [];
}

/// <summary>One failed line of a batch.</summary>
internal sealed record BatchFailure
{
    /// <summary>Manifest line number.</summary>
    public int Line { get; init; }

    /// <summary>The line's id (or reference) as far as it could be read.</summary>
    public string? CustomerItemId { get; init; }

    /// <summary>Error kind (<c>bad_input</c>, <c>not_found</c>, <c>server_error</c>, …).</summary>
    public string Kind { get; init; } = "";

    /// <summary>Why.</summary>
    public string Reason { get; init; } = "";
}

/// <summary>One item of a <c>--temporary</c> batch.</summary>
internal sealed record TemporaryItem
{
    /// <summary>Manifest line number.</summary>
    public int Line { get; init; }

    /// <summary>The manifest's own reference (its first field).</summary>
    public string Reference { get; init; } = "";

    /// <summary>The generated temporary customer_item_id.</summary>
    public string TemporaryId { get; init; } = "";
}

/// <summary><c>batch register</c> / <c>batch link</c>.</summary>
internal sealed record BatchResult
{
    /// <summary>The manifest.</summary>
    public string Manifest { get; init; } = "";

    /// <summary>The journal.</summary>
    public string Journal { get; init; } = "";

    /// <summary>Data lines in the manifest.</summary>
    public int Total { get; init; }

    /// <summary>Lines done by this run.</summary>
    public int Succeeded { get; init; }

    /// <summary>Lines already done by an earlier run of this journal (not sent again).</summary>
    public int Skipped { get; init; }

    /// <summary>Lines that failed in this run.</summary>
    public int Failed { get; init; }

    /// <summary>Lines not attempted (the run was stopped: interrupted, server unreachable, auth error).</summary>
    public int Pending { get; init; }

    /// <summary>Wall time of this run.</summary>
    public double ElapsedSeconds { get; init; }

    /// <summary>Lines done per second in this run.</summary>
    public double ItemsPerSecond { get; init; }

    /// <summary>The failed lines, in line order.</summary>
    public BatchFailure[] Failures { get; init; } = [];

    /// <summary>With <c>--temporary</c>: every done line's generated id; else empty.</summary>
    public TemporaryItem[] TemporaryItems { get; init; } = [];
}

/// <summary><c>capture</c>: one spot's local check.</summary>
internal sealed record SpotCheck
{
    /// <summary>Spot name.</summary>
    public string Spot { get; init; } = "";

    /// <summary>The capture file.</summary>
    public string Image { get; init; } = "";

    /// <summary>True when it passes the quality gate.</summary>
    public bool Passes { get; init; }

    /// <summary>Rejection code (snake_case, as the API gives it), or null.</summary>
    public string? Rejection { get; init; }

    /// <summary>How to retake it, or null.</summary>
    public string? Advice { get; init; }

    /// <summary>Focus measure, when decoded.</summary>
    public double? Focus { get; init; }

    /// <summary>Mean brightness, when decoded.</summary>
    public double? Mean { get; init; }

    /// <summary>Contrast, when decoded.</summary>
    public double? Contrast { get; init; }

    /// <summary>Clipped share, when decoded.</summary>
    public double? Clipped { get; init; }
}

/// <summary><c>capture</c>.</summary>
internal sealed record CaptureResult
{
    /// <summary>Profile used.</summary>
    public string Profile { get; init; } = "";

    /// <summary>The item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>Every spot's check, in profile order.</summary>
    public SpotCheck[] Spots { get; init; } = [];

    /// <summary>True when the captures were uploaded.</summary>
    public bool Registered { get; init; }

    /// <summary>The registration, when uploaded.</summary>
    public RegisterResult? Registration { get; init; }
}

/// <summary><c>config show</c>.</summary>
internal sealed record ConfigResult
{
    /// <summary>Server address, or null.</summary>
    public string? Server { get; init; }

    /// <summary>flag, environment, config_file or none.</summary>
    public string ServerSource { get; init; } = "";

    /// <summary>The API key, masked, or null.</summary>
    public string? ApiKey { get; init; }

    /// <summary>flag, environment, config_file or none.</summary>
    public string ApiKeySource { get; init; } = "";

    /// <summary>The config file consulted.</summary>
    public string ConfigFile { get; init; } = "";

    /// <summary>True when it exists.</summary>
    public bool ConfigFileFound { get; init; }
}
