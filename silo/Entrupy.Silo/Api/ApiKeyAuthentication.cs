using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Orleans;
using Entrupy.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Entrupy.Silo.Api;

/// <summary>Names used by API key authentication.</summary>
public static class ApiAuth
{
    /// <summary>The authentication scheme.</summary>
    public const string Scheme = "ApiKey";

    /// <summary>Policy: a key bound to a tenant.</summary>
    public const string TenantPolicy = "tenant";

    /// <summary>Policy: the admin key.</summary>
    public const string AdminPolicy = "admin";

    /// <summary>Claim: the tenant the key belongs to.</summary>
    public const string TenantClaim = "tenant_id";

    /// <summary>Claim: the key's id (rate limits partition by it).</summary>
    public const string KeyIdClaim = "key_id";

    /// <summary>Role of the bootstrap admin key.</summary>
    public const string AdminRole = "admin";

    /// <summary>The tenant id of the authenticated caller; throws if the endpoint forgot the tenant policy.</summary>
    public static string TenantId(this ClaimsPrincipal user) =>
        user.FindFirstValue(TenantClaim) ?? throw new ApiException(ApiErrorKind.Forbidden, "This key is not bound to a tenant.");
}

/// <summary>Marks endpoints that need the admin key, so a challenge can explain when admin is switched off.</summary>
internal sealed class AdminEndpointMetadata;

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c>: the bootstrap admin key
/// (compared in constant time) or a tenant key (looked up by its SHA-256 in the key grain). Challenges and forbids as problems.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IGrainFactory grains,
    IOptions<AdminOptions> admin)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string FailureItem = "entrupy.auth.failure";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = ReadKey(Request);
        if (key is null) return AuthenticateResult.NoResult();

        var bootstrap = admin.Value.BootstrapKey;
        if (!string.IsNullOrEmpty(bootstrap) && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(bootstrap)))
            return Success([new Claim(ClaimTypes.Role, ApiAuth.AdminRole), new Claim(ApiAuth.KeyIdClaim, "admin-bootstrap")]);

        if (!key.StartsWith(ApiKeys.KeyPrefix, StringComparison.Ordinal) || key.Length > 200) return Fail("The API key is not recognised.");
        var binding = await grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(key)).Get();
        if (binding is null) return Fail("The API key is not recognised.");
        if (binding.Revoked) return Fail("The API key has been revoked.");
        return Success([new Claim(ApiAuth.TenantClaim, binding.TenantId), new Claim(ApiAuth.KeyIdClaim, binding.KeyId)]);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (AdminDisabledHere()) return WriteAdminDisabled();
        Response.Headers.WWWAuthenticate = "Bearer";
        var detail = Context.Items[FailureItem] as string
            ?? "Send the key as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'.";
        return ApiProblems.WriteAsync(Context, ApiErrorKind.Unauthorized, detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        if (AdminDisabledHere()) return WriteAdminDisabled();
        var detail = Context.User.IsInRole(ApiAuth.AdminRole)
            ? "The admin key is not bound to a tenant; use a tenant key."
            : "This operation needs the admin key.";
        return ApiProblems.WriteAsync(Context, ApiErrorKind.Forbidden, detail);
    }

    private static string? ReadKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return authorization["Bearer ".Length..].Trim() is { Length: > 0 } bearer ? bearer : null;
        return request.Headers["X-Api-Key"].ToString().Trim() is { Length: > 0 } header ? header : null;
    }

    private AuthenticateResult Success(Claim[] claims) =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, ApiAuth.Scheme)), ApiAuth.Scheme));

    private AuthenticateResult Fail(string reason)
    {
        Context.Items[FailureItem] = reason;
        return AuthenticateResult.Fail(reason);
    }

    private bool AdminDisabledHere() =>
        string.IsNullOrEmpty(admin.Value.BootstrapKey) && Context.GetEndpoint()?.Metadata.GetMetadata<AdminEndpointMetadata>() is not null;

    private Task WriteAdminDisabled() => ApiProblems.WriteAsync(Context, ApiErrorKind.AdminDisabled,
        "No admin key is configured: set Admin:BootstrapKey or the ENTRUPY_BOOTSTRAP_KEY environment variable and restart the silo.");
}
