using System.Net;
using Microsoft.AspNetCore.Mvc;

namespace Easel.Api.Auth;

/// <summary>
/// With authentication off the service is open to whoever reaches it, so it listens on loopback only: every configured
/// address that is not loopback (<c>--urls</c>, <c>ASPNETCORE_URLS</c>, <c>Urls</c>, <c>ASPNETCORE_HTTP_PORTS</c>,
/// <c>Kestrel:Endpoints:*:Url</c>) is rebound to loopback on the same port, and a request from another address is
/// refused with 403 (the second line of defence, e.g. against code that binds elsewhere).
/// </summary>
public static class LoopbackBinding
{
    /// <summary>
    /// Rewrites the listening addresses in <paramref name="configuration"/> (before the server reads them) and returns
    /// each change as "old → new".
    /// </summary>
    public static IReadOnlyList<string> RebindToLoopback(IConfiguration configuration)
    {
        var changes = new List<string>();
        void Rewrite(string key)
        {
            if (configuration[key] is not { Length: > 0 } urls)
                return;
            var rewritten = RewriteUrls(urls);
            if (rewritten == urls)
                return;
            configuration[key] = rewritten;
            changes.Add($"{key}: {urls} → {rewritten}");
        }

        Rewrite(WebHostDefaults.ServerUrlsKey);
        // Ports alone (ASPNETCORE_HTTP_PORTS, the default of the .NET container images) bind every address; they only
        // apply while no URL is configured, so they become loopback URLs.
        if (string.IsNullOrEmpty(configuration[WebHostDefaults.ServerUrlsKey]))
        {
            var fromPorts = PortUrls("http", configuration[WebHostDefaults.HttpPortsKey]).Concat(PortUrls("https", configuration[WebHostDefaults.HttpsPortsKey])).ToList();
            if (fromPorts.Count > 0)
            {
                configuration[WebHostDefaults.ServerUrlsKey] = string.Join(';', fromPorts);
                changes.Add($"{WebHostDefaults.HttpPortsKey}/{WebHostDefaults.HttpsPortsKey} → {string.Join(';', fromPorts)}");
            }
        }
        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
            Rewrite($"{endpoint.Path}:Url");
        return changes;
    }

    /// <summary>The same list of URLs with every non-loopback host replaced by loopback, ports and paths unchanged.</summary>
    public static string RewriteUrls(string urls) =>
        string.Join(';', urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(RewriteUrl));

    /// <summary>
    /// <c>http://0.0.0.0:8080</c>, <c>http://*:8080</c>, <c>http://+:8080</c>, <c>http://[::]:8080</c>, a LAN address or a
    /// host name → <c>http://localhost:8080</c> (Kestrel binds localhost to 127.0.0.1 and [::1]); port 0 (any free
    /// port) → <c>http://127.0.0.1:0</c>, since Kestrel cannot bind localhost dynamically. Unix sockets, named pipes and
    /// loopback addresses are kept; what cannot be parsed is left for Kestrel to report.
    /// </summary>
    public static string RewriteUrl(string url)
    {
        BindingAddress address;
        try
        {
            address = BindingAddress.Parse(url);
        }
        catch (FormatException)
        {
            return url;
        }
        if (address.IsUnixPipe || address.IsNamedPipe || IsLoopbackHost(address.Host))
            return url;
        var host = address.Port == 0 ? "127.0.0.1" : "localhost";
        return $"{address.Scheme}://{host}:{address.Port}{address.PathBase}";
    }

    internal static bool IsLoopbackHost(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            return true;
        return IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IsLoopback(ip);
    }

    internal static bool IsLoopback(IPAddress address) =>
        IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    private static IEnumerable<string> PortUrls(string scheme, string? ports) =>
        (ports ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(port => $"{scheme}://{(port == "0" ? "127.0.0.1" : "localhost")}:{port}");

    /// <summary>
    /// While authentication is off, answers 403 to a request whose remote address is not loopback. In-process callers
    /// without a remote address (the test server) are served.
    /// </summary>
    public static IApplicationBuilder UseLoopbackClientsOnly(this IApplicationBuilder app) =>
        app.Use(async (http, next) =>
        {
            if (http.Connection.RemoteIpAddress is { } remote && !IsLoopback(remote))
            {
                http.Response.StatusCode = StatusCodes.Status403Forbidden;
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails = new ProblemDetails
                    {
                        Status = StatusCodes.Status403Forbidden,
                        Title = "Only local clients are served.",
                        Detail = "Authentication is off (Easel:Auth:AdminKey is not set), so the service answers loopback clients only.",
                    },
                });
                return;
            }
            await next(http);
        });
}
