using Entrupy.Silo.Tenancy;
using Entrupy.Silo.Webhooks;
using Entrupy.Tenancy;
using Entrupy.Webhooks;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.OpenApi;

namespace Entrupy.Silo.Api;

/// <summary>Registers and wires the HTTP infrastructure: auth, problems, idempotency, limits, webhooks, OpenAPI.</summary>
public static class ApiHosting
{
    /// <summary>Adds the API services, reading the <c>Admin</c>, <c>Limits</c>, <c>RateLimits</c>, <c>Idempotency</c> and <c>Webhooks</c> sections.</summary>
    public static IServiceCollection AddSiloApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<AdminOptions>(configuration.GetSection("Admin"));
        services.PostConfigure<AdminOptions>(o =>
        {
            if (string.IsNullOrWhiteSpace(o.BootstrapKey)) o.BootstrapKey = Environment.GetEnvironmentVariable("ENTRUPY_BOOTSTRAP_KEY");
            if (string.IsNullOrWhiteSpace(o.BootstrapKey)) o.BootstrapKey = null;
        });
        services.Configure<LimitOptions>(configuration.GetSection("Limits"));
        services.Configure<RateLimitOptions>(configuration.GetSection("RateLimits"));
        services.Configure<IdempotencyOptions>(configuration.GetSection("Idempotency"));
        services.Configure<WebhookOptions>(configuration.GetSection("Webhooks"));
        services.TryAddSingleton(TimeProvider.System);

        // The wire format shared with clients (snake_case, nulls left out): Entrupy.Registry.Api.ApiJson.
        services.ConfigureHttpJsonOptions(o => Entrupy.Registry.Api.ApiJson.Configure(o.SerializerOptions));
        services.AddProblemDetails();
        services.AddExceptionHandler<ProblemExceptionHandler>();

        services.AddAuthentication(ApiAuth.Scheme).AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiAuth.Scheme, null);
        services.AddAuthorizationBuilder()
            // Secure by default: an endpoint that forgets RequireAuthorization still needs a valid key.
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(ApiAuth.Scheme).RequireAuthenticatedUser().Build())
            .AddPolicy(ApiAuth.TenantPolicy, p => p.RequireClaim(ApiAuth.TenantClaim))
            .AddPolicy(ApiAuth.AdminPolicy, p => p.RequireRole(ApiAuth.AdminRole));
        services.AddApiRateLimiting();

        // Receivers must answer themselves: following redirects would let a subscription point deliveries anywhere.
        services.AddHttpClient(WebhookDispatcher.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) });
        services.AddSingleton<WebhookPublisher>();
        services.AddSingleton<IWebhookPublisher>(sp => sp.GetRequiredService<WebhookPublisher>());
        services.AddHostedService<WebhookDispatcher>();

        services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Entrupy silo API";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[ApiAuth.Scheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key as 'Authorization: Bearer <key>' (or the 'X-Api-Key' header). Tenant keys start with 'ek_'.",
            };
            document.Security ??= [];
            document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiAuth.Scheme, document)] = [] });
            return Task.CompletedTask;
        }));
        return services;
    }

    /// <summary>Adds the middleware in order and maps the admin, webhook and OpenAPI endpoints.</summary>
    public static WebApplication UseSiloApi(this WebApplication app)
    {
        app.UseMiddleware<ServerTimingMiddleware>();
        app.UseExceptionHandler();
        // Empty error responses (unknown route, wrong method, unreadable JSON) become problems too.
        app.UseStatusCodePages(context => ApiProblems.WriteAsync(context.HttpContext, ApiErrorKind.ForStatus(context.HttpContext.Response.StatusCode), null));
        app.UseMiddleware<BodySizeCapMiddleware>();
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseMiddleware<IdempotencyMiddleware>();

        app.MapOpenApi().AllowAnonymous();
        app.MapAdminEndpoints();
        app.MapWebhookEndpoints();
        return app;
    }
}
