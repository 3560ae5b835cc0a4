using System.Text;
using Easel.Core.Auth;
using Hangfire.Dashboard;
using Microsoft.Net.Http.Headers;

namespace Easel.Api.Auth;

/// <summary>
/// The Hangfire dashboard (/hangfire) is for admins: the admin key as <c>Authorization: Bearer</c>, or as the password of
/// HTTP Basic (any user name) so that a browser can log in; otherwise 401 with <c>WWW-Authenticate: Basic</c>, which
/// makes the browser ask (403 for a valid ordinary API key). With authentication off there is no admin key and only
/// local requests get in.
/// </summary>
public sealed class AdminDashboardAuthorizationFilter(AuthOptions auth) : IDashboardAuthorizationFilter
{
    private static readonly LocalRequestsOnlyAuthorizationFilter LocalRequestsOnly = new();

    public bool Authorize(DashboardContext context)
    {
        if (!auth.IsEnabled)
            return LocalRequestsOnly.Authorize(context);
        var http = context.GetHttpContext();
        if (PresentedKey(http.Request) is { } key && ApiKeyTokens.FixedTimeEquals(key, auth.AdminKey!))
            return true;
        // Hangfire answers 403 to a caller authenticated with an ordinary key and 401 to anyone else; with the challenge a
        // browser shows its login dialog.
        if (http.User.Identity?.IsAuthenticated != true)
            http.Response.Headers[HeaderNames.WWWAuthenticate] = "Basic realm=\"Easel\", charset=\"UTF-8\"";
        return false;
    }

    private static string? PresentedKey(HttpRequest request)
    {
        if (ApiKeyAuthenticationHandler.BearerToken(request) is { } bearer)
            return bearer;
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Basic ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            return null;
        try
        {
            var credentials = Encoding.UTF8.GetString(Convert.FromBase64String(header[scheme.Length..].Trim()));
            var colon = credentials.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? null : credentials[(colon + 1)..];
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
