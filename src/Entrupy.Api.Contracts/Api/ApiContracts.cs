using System.Text.Json;
using System.Text.Json.Serialization;

namespace Entrupy.Registry.Api;

/// <summary>
/// The REST API's routes, shared by the silo and its clients so both spell them the same way.
/// <c>{id}</c> is a customer_item_id (see <see cref="ItemKey"/> for its rule) and is URL-escaped by callers.
/// </summary>
public static class ApiRoutes
{
    /// <summary><c>GET</c>: a page of the tenant's items (<c>?limit=1..500&amp;cursor=</c>) → <see cref="ItemPage"/>.</summary>
    public const string Items = "/items";

    /// <summary><c>GET</c>: one item → <see cref="ItemView"/> (fingerprint bytes left out).</summary>
    public const string Item = "/items/{id}";

    /// <summary><c>POST</c> multipart (<c>image</c> parts + a <c>metadata</c> JSON part, <see cref="RegistrationMetadata"/>) → 201 <see cref="RegistrationResponse"/>.</summary>
    public const string Registrations = "/items/{id}/registrations";

    /// <summary><c>POST</c> multipart (<c>image</c> parts) → 200 <see cref="CompareResponse"/> (1:1).</summary>
    public const string Compare = "/items/{id}/compare";

    /// <summary><c>POST</c> multipart (<c>image</c> parts, <c>?top=1..20</c>, default 5) → 200 <see cref="TraceResponse"/> (1:N within the tenant).</summary>
    public const string Trace = "/trace";

    /// <summary>
    /// <c>POST</c> multipart (<c>image</c> parts) → 200 <see cref="CaptureAssessmentResponse"/>: the server's quality gate
    /// on each capture, nothing stored (guided capture asks this before uploading a registration).
    /// </summary>
    public const string CaptureAssessment = "/captures/assess";

    /// <summary><c>POST</c> JSON <see cref="CustodyEventRequest"/> → 201 <see cref="CustodyEvent"/>; <c>GET</c> (<c>?from=0&amp;limit=1..1000</c>) → <see cref="CustodyEventPage"/>.</summary>
    public const string Custody = "/items/{id}/custody";

    /// <summary><c>GET</c>: the custody events as an EPCIS 2.0 JSON-LD document (<c>application/ld+json</c>).</summary>
    public const string CustodyEpcis = "/items/{id}/custody/epcis";

    /// <summary><c>POST</c> multipart (<c>image</c> parts + <c>metadata</c> JSON part, <see cref="AuthenticationSubmission"/>) → 202 <see cref="AuthenticationResult"/> with <c>Location</c> of <see cref="Authentication"/>.</summary>
    public const string Authentications = "/items/{id}/authentications";

    /// <summary><c>GET</c>: the status resource of one authentication → <see cref="AuthenticationResult"/>.</summary>
    public const string Authentication = "/items/{id}/authentications/{authenticationId}";

    /// <summary><c>POST</c> JSON <see cref="ReviewRequest"/>: an expert's final verdict on a needs_review authentication → 200 <see cref="AuthenticationResult"/>.</summary>
    public const string AuthenticationReview = "/items/{id}/authentications/{authenticationId}/review";

    /// <summary><c>GET</c>: the tenant's authentications waiting for an expert (<c>?limit=1..500&amp;cursor=</c>) → <see cref="ReviewQueuePage"/>.</summary>
    public const string ReviewQueue = "/reviews";

    /// <summary><c>POST</c> JSON <see cref="LinkRequest"/> on the temporary id: links it to a permanent id → 200 <see cref="ItemView"/> of the permanent item.</summary>
    public const string Link = "/items/{id}/link";

    /// <summary>Fills <c>{id}</c> (escaped) and other <c>{name}</c> placeholders in a route.</summary>
    public static string Format(string route, string customerItemId, string? authenticationId = null)
    {
        var path = route.Replace("{id}", Uri.EscapeDataString(customerItemId), StringComparison.Ordinal);
        return authenticationId is null ? path : path.Replace("{authenticationId}", Uri.EscapeDataString(authenticationId), StringComparison.Ordinal);
    }

    /// <summary>Name of the multipart parts that carry capture images.</summary>
    public const string ImagePart = "image";

    /// <summary>Name of the multipart part that carries the JSON metadata.</summary>
    public const string MetadataPart = "metadata";

    /// <summary>Header carrying the idempotency key every POST needs.</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";
}

/// <summary>JSON settings of the API: snake_case names, enums as their wire strings, nulls left out.</summary>
public static class ApiJson
{
    /// <summary>Options to read and write API bodies with.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Applies the API's settings to <paramref name="options"/> (used by the silo's HTTP JSON options).</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
    }

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Configure(options);
        return options;
    }
}

/// <summary>Metadata sent with a registration's images.</summary>
public sealed record RegistrationMetadata
{
    /// <summary>Capturing device.</summary>
    public string? DeviceId { get; init; }

    /// <summary>Operator who captured.</summary>
    public string? OperatorId { get; init; }

    /// <summary>Where it was captured: SGLN EPC URI, https URI or free text.</summary>
    public string? Location { get; init; }

    /// <summary>When it was captured, with the site's offset; null: the time the silo received it (UTC).</summary>
    public DateTimeOffset? CapturedAt { get; init; }

    /// <summary>EPC of the item (SGTIN EPC URI or https URI), used in EPCIS exports.</summary>
    public string? Epc { get; init; }

    /// <summary>For a re-registration: why the previous fingerprint is superseded (e.g. "repaired").</summary>
    public string? SupersedeReason { get; init; }

    /// <summary>Optional custody event to record with the registration (e.g. bizStep commissioning at the factory).</summary>
    public CustodyEventRequest? CustodyEvent { get; init; }
}

/// <summary>Quality figures of one accepted capture.</summary>
public sealed record CaptureQuality
{
    /// <summary>Index of the image part, from 0.</summary>
    public int Index { get; init; }

    /// <summary>Pixels across.</summary>
    public int Width { get; init; }

    /// <summary>Pixels down.</summary>
    public int Height { get; init; }

    /// <summary>Focus measure (higher is sharper).</summary>
    public double Focus { get; init; }

    /// <summary>Mean brightness, 0-255.</summary>
    public double Mean { get; init; }

    /// <summary>Contrast (standard deviation of brightness).</summary>
    public double Contrast { get; init; }

    /// <summary>Share of clipped (black or white) pixels.</summary>
    public double Clipped { get; init; }
}

/// <summary>The quality gate's verdict on one capture.</summary>
public sealed record CaptureAssessment
{
    /// <summary>Index of the image part, from 0.</summary>
    public int Index { get; init; }

    /// <summary>True when the capture passes the gate (a registration with it would be accepted).</summary>
    public bool Accepted { get; init; }

    /// <summary>Stable rejection code (snake_case: not_an_image, corrupt, too_large, too_small, out_of_focus, overexposed, underexposed, low_contrast, clipped), or null.</summary>
    public string? Rejection { get; init; }

    /// <summary>The engine's explanation of a rejection, or null.</summary>
    public string? Message { get; init; }

    /// <summary>Quality figures, when the capture could be decoded.</summary>
    public CaptureQuality? Quality { get; init; }
}

/// <summary>Answer to <see cref="ApiRoutes.CaptureAssessment"/>: one verdict per image part, in order.</summary>
public sealed record CaptureAssessmentResponse
{
    /// <summary>The verdicts.</summary>
    public CaptureAssessment[] Captures { get; init; } = [];
}

/// <summary>Answer to a registration.</summary>
public sealed record RegistrationResponse
{
    /// <summary>The item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>The new lineage entry (fingerprint bytes left out).</summary>
    public FingerprintRegistration Registration { get; init; } = new();

    /// <summary>Number of the registration this one superseded, if any.</summary>
    public int? Superseded { get; init; }

    /// <summary>Quality of each capture.</summary>
    public CaptureQuality[] Captures { get; init; } = [];

    /// <summary>The custody event recorded with it, if the metadata asked for one.</summary>
    public CustodyEvent? CustodyEvent { get; init; }
}

/// <summary>Answer to a 1:1 compare.</summary>
public sealed record CompareResponse
{
    /// <summary>The item compared with.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>The decision: score at or above the threshold.</summary>
    public bool Match { get; init; }

    /// <summary>Fused 1:1 score (geometrically verified correspondences; higher is more alike).</summary>
    public double Score { get; init; }

    /// <summary>Operating threshold (calibrated for the model's stated false-accept rate).</summary>
    public double Threshold { get; init; }

    /// <summary>Lineage number of the registration compared with.</summary>
    public int RegistrationNumber { get; init; }

    /// <summary>Fingerprint model id and version used.</summary>
    public string Model { get; init; } = "";

    /// <summary>Quality of each probe capture.</summary>
    public CaptureQuality[] Captures { get; init; } = [];
}

/// <summary>One candidate of a 1:N trace.</summary>
public sealed record TraceMatch
{
    /// <summary>The candidate item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>Fused 1:1 score.</summary>
    public double Score { get; init; }

    /// <summary>The decision at the operating threshold.</summary>
    public bool Match { get; init; }

    /// <summary>The item's last custody event, if any.</summary>
    public CustodyEvent? LastCustodyEvent { get; init; }
}

/// <summary>Answer to a 1:N trace.</summary>
public sealed record TraceResponse
{
    /// <summary>The matched item (best candidate at or above the threshold), or null when no registered item matches.</summary>
    public TraceMatch? Match { get; init; }

    /// <summary>The best candidates, highest score first.</summary>
    public TraceMatch[] Candidates { get; init; } = [];

    /// <summary>Operating threshold.</summary>
    public double Threshold { get; init; }

    /// <summary>Fingerprint model id and version used.</summary>
    public string Model { get; init; } = "";

    /// <summary>Quality of each probe capture.</summary>
    public CaptureQuality[] Captures { get; init; } = [];
}

/// <summary>A page of custody events.</summary>
public sealed record CustodyEventPage
{
    /// <summary>Events in chain order.</summary>
    public CustodyEvent[] Events { get; init; } = [];

    /// <summary>The <c>from</c> value of the next page, or null at the end.</summary>
    public int? NextFrom { get; init; }
}

/// <summary>One item in a listing.</summary>
public sealed record ItemSummary
{
    /// <summary>The item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>Number of the current registration, or null if none.</summary>
    public int? CurrentRegistration { get; init; }

    /// <summary>Custody events recorded.</summary>
    public int CustodyEvents { get; init; }

    /// <summary>When it was first seen (UTC).</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A page of a tenant's items.</summary>
public sealed record ItemPage
{
    /// <summary>Items of this page.</summary>
    public ItemSummary[] Items { get; init; } = [];

    /// <summary>Opaque cursor of the next page, or null at the end.</summary>
    public string? NextCursor { get; init; }
}

/// <summary>Metadata sent with an authentication's images.</summary>
public sealed record AuthenticationSubmission
{
    /// <summary>Client-chosen id; a retry with the same id returns the stored result. Null: the registry assigns one.</summary>
    public string? AuthenticationId { get; init; }

    /// <summary>Authentication model (brand+material, e.g. "acme-leather"), as listed by the model registry.</summary>
    public string Model { get; init; } = "";
}

/// <summary>An expert's final verdict on an authentication that needs review.</summary>
public sealed record ReviewRequest
{
    /// <summary>Reviewer id.</summary>
    public string Reviewer { get; init; } = "";

    /// <summary>authentic or not_authentic.</summary>
    public AuthenticationStatus Status { get; init; }

    /// <summary>Note.</summary>
    public string? Note { get; init; }
}

/// <summary>An authentication waiting for an expert.</summary>
public sealed record ReviewQueueEntry
{
    /// <summary>The item.</summary>
    public string CustomerItemId { get; init; } = "";

    /// <summary>The authentication.</summary>
    public AuthenticationResult Authentication { get; init; } = new();
}

/// <summary>A page of the review queue, oldest first.</summary>
public sealed record ReviewQueuePage
{
    /// <summary>Entries of this page.</summary>
    public ReviewQueueEntry[] Entries { get; init; } = [];

    /// <summary>Opaque cursor of the next page, or null at the end.</summary>
    public string? NextCursor { get; init; }
}

/// <summary>Links a temporary (session) id to the permanent customer_item_id.</summary>
public sealed record LinkRequest
{
    /// <summary>The permanent id, same tenant.</summary>
    public string PermanentCustomerItemId { get; init; } = "";

    /// <summary>Why.</summary>
    public string? Reason { get; init; }
}
