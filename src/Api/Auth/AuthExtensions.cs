using Easel.Core.Options;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Easel.Api.Auth;

public static class AuthExtensions
{
    /// <summary>
    /// API-key authentication, the /v1 fallback policy, the admin policy, the per-key rate limiter and the queued-jobs
    /// cap. With authentication off (no <c>Easel:Auth:AdminKey</c>) the listening addresses are rebound to loopback here,
    /// before the server reads them.
    /// </summary>
    public static WebApplicationBuilder AddEaselAuth(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section)
            .ValidateDataAnnotationsNamingKeys(AuthOptions.Section).ValidateOnStart();

        var enabled = !string.IsNullOrEmpty(builder.Configuration[$"{AuthOptions.Section}:{nameof(AuthOptions.AdminKey)}"]);
        services.AddSingleton(new OpenModeBinding(enabled ? [] : LoopbackBinding.RebindToLoopback(builder.Configuration)));

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(
                ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddSingleton<IAuthorizationHandler, V1CallerRequirementHandler>();
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(ApiKeyAuthenticationHandler.SchemeName)
                .AddRequirements(new V1CallerRequirement()).Build())
            .AddPolicy(AuthPolicies.Admin, policy => policy
                .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
                .RequireRole(CallerClaims.AdminRole));

        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<AuthOptions>, TimeProvider>((o, auth, time) => CallerRateLimiter.Configure(o, auth.Value, time));
        services.AddScoped<QueuedJobsCap>();

        services.ConfigureSwaggerGen(o =>
        {
            o.AddSecurityDefinition(AuthOperationFilter.SchemeName, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "esk_<id>_<secret>",
                Description = "An API key created with POST /v1/admin/keys, or the admin key. Required on /v1 when the service "
                    + "runs with Easel:Auth:AdminKey; without it the service is open and serves loopback clients only.",
            });
            o.OperationFilter<AuthOperationFilter>();
        });
        return builder;
    }

    /// <summary>
    /// Refuses non-loopback clients while authentication is off and says so in the log; then authentication, the rate
    /// limiter (after authentication, to know the key; before authorization, so that bad keys are limited too) and
    /// authorization. Goes before Swagger and the Hangfire dashboard, so that the loopback rule covers them too; the
    /// fallback policy and the limiter leave paths outside /v1 alone.
    /// </summary>
    public static WebApplication UseEaselAuth(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.IsEnabled)
        {
            app.Logger.LogWarning("Authentication is OFF: Easel:Auth:AdminKey is not set, so anyone who can reach the API may "
                + "use it. The service listens on loopback only and refuses requests from other addresses; set "
                + "Easel:Auth:AdminKey to serve other machines");
            foreach (var change in app.Services.GetRequiredService<OpenModeBinding>().Changes)
                app.Logger.LogWarning("Rebound to loopback because authentication is off: {Binding}", change);
            app.UseLoopbackClientsOnly();
        }
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        return app;
    }

    /// <summary>The Hangfire dashboard's filter: the admin key while authentication is on, local requests otherwise.</summary>
    public static IDashboardAuthorizationFilter DashboardFilter(this IServiceProvider services) =>
        new AdminDashboardAuthorizationFilter(services.GetRequiredService<IOptions<AuthOptions>>().Value);
}

/// <summary>What <see cref="LoopbackBinding.RebindToLoopback"/> changed at start-up, for the start-up log.</summary>
public sealed record OpenModeBinding(IReadOnlyList<string> Changes);
