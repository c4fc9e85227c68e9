using System.Text.Json.Serialization;

namespace Entrupy.Registry;

/// <summary>Outcome of an authentication.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AuthenticationStatus>))]
public enum AuthenticationStatus
{
    /// <summary>Not decided yet.</summary>
    [JsonStringEnumMemberName("pending")] Pending,

    /// <summary>Judged authentic.</summary>
    [JsonStringEnumMemberName("authentic")] Authentic,

    /// <summary>Judged not authentic.</summary>
    [JsonStringEnumMemberName("not_authentic")] NotAuthentic,

    /// <summary>Needs a human reviewer.</summary>
    [JsonStringEnumMemberName("needs_review")] NeedsReview,
}

/// <summary>A request to record an authentication of the item.</summary>
public sealed record AuthenticationRequest
{
    /// <summary>Client-chosen id (1-128 characters, same rule as customer_item_id); null: the registry assigns one. A retry with the same id returns the stored result.</summary>
    public string? AuthenticationId { get; init; }

    /// <summary>Initial status (usually pending, or the model's verdict).</summary>
    public AuthenticationStatus Status { get; init; } = AuthenticationStatus.Pending;

    /// <summary>Authentication model id.</summary>
    public string ModelId { get; init; } = "";

    /// <summary>Authentication model version.</summary>
    public string? ModelVersion { get; init; }

    /// <summary>Model scores by name.</summary>
    public Dictionary<string, double> Scores { get; init; } = [];
}

/// <summary>A later change to an authentication: a new status and/or a reviewer's verdict.</summary>
public sealed record AuthenticationUpdate
{
    /// <summary>New status.</summary>
    public AuthenticationStatus Status { get; init; }

    /// <summary>Scores to add or replace, by name.</summary>
    public Dictionary<string, double> Scores { get; init; } = [];

    /// <summary>Reviewer who decided, when this is a human verdict.</summary>
    public string? Reviewer { get; init; }

    /// <summary>Reviewer's note.</summary>
    public string? Note { get; init; }
}

/// <summary>A human reviewer's verdict on an authentication.</summary>
public sealed record ReviewerVerdict
{
    /// <summary>Reviewer id.</summary>
    public string Reviewer { get; init; } = "";

    /// <summary>The verdict.</summary>
    public AuthenticationStatus Status { get; init; }

    /// <summary>Note.</summary>
    public string? Note { get; init; }

    /// <summary>When it was given (UTC).</summary>
    public DateTimeOffset At { get; init; }
}

/// <summary>An authentication result recorded on an item.</summary>
public sealed record AuthenticationResult
{
    /// <summary>Id, unique within the item.</summary>
    public string AuthenticationId { get; init; } = "";

    /// <summary>Current status.</summary>
    public AuthenticationStatus Status { get; init; }

    /// <summary>Model id.</summary>
    public string ModelId { get; init; } = "";

    /// <summary>Model version.</summary>
    public string? ModelVersion { get; init; }

    /// <summary>Scores by name.</summary>
    public Dictionary<string, double> Scores { get; init; } = [];

    /// <summary>The reviewer's verdict, once given.</summary>
    public ReviewerVerdict? ReviewerVerdict { get; init; }

    /// <summary>When it was recorded (UTC).</summary>
    public DateTimeOffset RecordedAt { get; init; }

    /// <summary>When it last changed (UTC).</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}
