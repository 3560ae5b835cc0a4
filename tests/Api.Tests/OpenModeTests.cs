using System.Net;
using System.Net.Http.Headers;
using Easel.Api.Auth;
using Easel.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Easel.Api.Tests;

/// <summary>Authentication off (no Easel:Auth:AdminKey): open, but to loopback clients only.</summary>
public abstract class OpenModeTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    [Theory]
    [InlineData("203.0.113.7")]
    [InlineData("192.168.1.20")]
    [InlineData("2001:db8::1")]
    public async Task Request_from_a_non_loopback_address_is_refused_with_403_problem(string remote)
    {
        var context = await Factory.Server.SendAsync(http =>
        {
            http.Request.Method = "GET";
            http.Request.Path = "/v1/models";
            http.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        });

        Assert.Equal(StatusCodes.Status403Forbidden, context.Response.StatusCode);
        Assert.Equal("application/problem+json", context.Response.ContentType);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("::ffff:127.0.0.1")]
    public async Task Request_from_loopback_is_served_without_a_key(string remote)
    {
        var context = await Factory.Server.SendAsync(http =>
        {
            http.Request.Method = "GET";
            http.Request.Path = "/v1/models";
            http.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        });

        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
    }

    [Theory]
    [InlineData("127.0.0.1", StatusCodes.Status200OK)]
    [InlineData(null, StatusCodes.Status401Unauthorized)]
    public async Task Dashboard_is_served_to_local_requests_only(string? remote, int expected)
    {
        var context = await Factory.Server.SendAsync(http =>
        {
            http.Request.Method = "GET";
            http.Request.Path = "/hangfire";
            http.Connection.RemoteIpAddress = remote is null ? null : IPAddress.Parse(remote);
            http.Connection.LocalIpAddress = IPAddress.Loopback;
        });

        Assert.Equal(expected, context.Response.StatusCode);
    }

    [Fact]
    public async Task Admin_endpoints_answer_401_explaining_that_authentication_is_off()
    {
        var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "anything-at-all-0123456789abcdef-0123");

        var response = await client.PostAsync("/v1/admin/keys", new StringContent("{\"name\":\"x\"}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Easel:Auth:AdminKey is not set", (await ReadJsonAsync(response)).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_bearer_token_is_ignored_and_jobs_stay_unowned()
    {
        var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "esk_0123456789abcdef_not-a-key");

        var response = await client.PostAsync("/v1/generations",
            new StringContent(ValidRequest().ToJsonString(), System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await ReadJsonAsync(response)).GetProperty("id").GetGuid();
        Assert.Null(await Factory.WithDbAsync(db => Task.FromResult(db.Jobs.Single(j => j.Id == id).Owner)));
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync($"/v1/jobs/{id}")).StatusCode);
    }
}

public sealed class OpenModeTestsOnSqlite(SqliteApiFactory factory) : OpenModeTests<SqliteApiFactory>(factory);

public sealed class OpenModeTestsOnPostgres(PostgresApiFactory factory) : OpenModeTests<PostgresApiFactory>(factory);

/// <summary>With authentication off each remote address has Easel:Auth:DefaultRateLimitPerMinute (the limiter does not touch the database).</summary>
public sealed class OpenModeRateLimitTests(OpenModeRateLimitTests.LimitedFactory factory) : IClassFixture<OpenModeRateLimitTests.LimitedFactory>
{
    [Fact]
    public async Task Each_remote_address_gets_the_default_limit_then_429_with_retry_after()
    {
        async Task<HttpContext> Get(string remote, string path = "/v1/models") => await factory.Server.SendAsync(http =>
        {
            http.Request.Method = "GET";
            http.Request.Path = path;
            http.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        });

        Assert.Equal(StatusCodes.Status200OK, (await Get("127.0.0.1")).Response.StatusCode);
        Assert.Equal(StatusCodes.Status200OK, (await Get("127.0.0.1")).Response.StatusCode);
        var refused = await Get("127.0.0.1");

        Assert.Equal(StatusCodes.Status429TooManyRequests, refused.Response.StatusCode);
        Assert.True(int.Parse(refused.Response.Headers.RetryAfter.ToString(), System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 60);
        Assert.Equal("application/problem+json", refused.Response.ContentType);
        Assert.Equal(StatusCodes.Status200OK, (await Get("::1")).Response.StatusCode);
        Assert.Equal(StatusCodes.Status200OK, (await Get("127.0.0.1", "/healthz")).Response.StatusCode);
    }

    public sealed class LimitedFactory : EaselApiFactory
    {
        protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Easel:Auth:DefaultRateLimitPerMinute", "2");
        }
    }
}

/// <summary>The listening addresses while authentication is off.</summary>
public sealed class LoopbackBindingTests
{
    [Theory]
    [InlineData("http://0.0.0.0:8080", "http://localhost:8080")]
    [InlineData("http://*:5000", "http://localhost:5000")]
    [InlineData("http://+:5000", "http://localhost:5000")]
    [InlineData("http://[::]:5000", "http://localhost:5000")]
    [InlineData("http://192.168.1.10:5000", "http://localhost:5000")]
    [InlineData("http://easel.example.com:80", "http://localhost:80")]
    [InlineData("https://0.0.0.0:8443/base", "https://localhost:8443/base")]
    [InlineData("http://0.0.0.0:0", "http://127.0.0.1:0")]
    [InlineData("http://localhost:5080", "http://localhost:5080")]
    [InlineData("http://127.0.0.1:5000", "http://127.0.0.1:5000")]
    [InlineData("http://[::1]:5000", "http://[::1]:5000")]
    [InlineData("http://unix:/run/easel.sock", "http://unix:/run/easel.sock")]
    [InlineData("http://0.0.0.0:8080;http://localhost:9090", "http://localhost:8080;http://localhost:9090")]
    public void Non_loopback_urls_are_rewritten_to_loopback_on_the_same_port(string configured, string expected)
    {
        Assert.Equal(expected, LoopbackBinding.RewriteUrls(configured));
    }

    [Fact]
    public void Urls_kestrel_endpoints_and_bare_ports_in_configuration_are_all_rebound()
    {
        var urls = Configuration(("urls", "http://0.0.0.0:5000"), ("Kestrel:Endpoints:Public:Url", "https://*:5001"),
            ("Kestrel:Endpoints:Local:Url", "http://127.0.0.1:5002"));
        var ports = Configuration(("http_ports", "8080;8081"));

        var urlChanges = LoopbackBinding.RebindToLoopback(urls);
        var portChanges = LoopbackBinding.RebindToLoopback(ports);

        Assert.Equal("http://localhost:5000", urls["urls"]);
        Assert.Equal("https://localhost:5001", urls["Kestrel:Endpoints:Public:Url"]);
        Assert.Equal("http://127.0.0.1:5002", urls["Kestrel:Endpoints:Local:Url"]);
        Assert.Equal(2, urlChanges.Count);
        Assert.Equal("http://localhost:8080;http://localhost:8081", ports["urls"]);
        Assert.Single(portChanges);
    }

    [Fact]
    public void Loopback_configuration_is_left_alone()
    {
        var configuration = Configuration(("urls", "http://localhost:5080"));

        Assert.Empty(LoopbackBinding.RebindToLoopback(configuration));
        Assert.Equal("http://localhost:5080", configuration["urls"]);
    }

    [Fact]
    public async Task Service_started_on_Kestrel_with_an_any_address_url_listens_on_loopback_only()
    {
        await using var factory = new KestrelFactory("http://0.0.0.0:0");
        await factory.PrepareDatabaseAsync();
        factory.UseKestrel();
        factory.StartServer();

        var addresses = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;

        var address = Assert.Single(addresses);
        Assert.StartsWith("http://127.0.0.1:", address);
        using var client = new HttpClient { BaseAddress = new Uri(address) };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        var warnings = factory.Logs.Lines.Where(l => l.Level == LogLevel.Warning).Select(l => l.Text).ToList();
        Assert.Contains(warnings, w => w.Contains("Authentication is OFF", StringComparison.Ordinal) && w.Contains("loopback only", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("http://0.0.0.0:0 → http://127.0.0.1:0", StringComparison.Ordinal));
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    private sealed class KestrelFactory(string urls) : EaselApiFactory
    {
        public CapturedLogs Logs { get; } = new();

        protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("urls", urls);
            builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        }
    }
}
