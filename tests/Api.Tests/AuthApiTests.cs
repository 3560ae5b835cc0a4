using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Core.Auth;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Storage;
using Easel.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Easel.Api.Tests;

/// <summary>The service with authentication on: Easel:Auth:AdminKey set, everything else as in the other API tests.</summary>
public abstract class AuthApiFactory : EaselApiFactory
{
    public const string AdminKey = "test-admin-key-5f0c1d7e9a2b4c6d8e0f1a3b5c7d9e1f";

    public CapturedLogs Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Easel:Auth:AdminKey", AdminKey);
        builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
    }
}

public sealed class SqliteAuthApiFactory : AuthApiFactory
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));
}

public sealed class PostgresAuthApiFactory : AuthApiFactory
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabase.CreatePostgresAsync();
}

public abstract class AuthApiTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : AuthApiFactory
{
    private HttpClient Admin => WithBearer(AuthApiFactory.AdminKey);

    [Theory]
    [InlineData("GET", "/v1/models")]
    [InlineData("GET", "/v1/jobs/0197a8f0-0000-7000-8000-000000000001")]
    [InlineData("GET", "/v1/images/0197a8f0-0000-7000-8000-000000000001")]
    [InlineData("POST", "/v1/generations")]
    [InlineData("GET", "/v1/admin/keys")]
    public async Task Without_a_key_a_v1_endpoint_answers_401_problem_with_a_bearer_challenge(string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
            request.Content = JsonContent(ValidRequest());
        var jobsBefore = await Factory.CountJobsAsync();

        var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task Health_readiness_metrics_and_swagger_stay_open_without_a_key()
    {
        foreach (var path in new[] { "/healthz", "/readyz", "/metrics", "/swagger/v1/swagger.json" })
            Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync(path)).StatusCode);
    }

    [Fact]
    public async Task Unknown_token_is_refused_with_401_invalid_token()
    {
        var response = await WithBearer("esk_0123456789abcdef_" + new string('A', 43)).GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Admin_creates_a_key_whose_token_is_shown_once_stored_hashed_and_listed_without_its_secret()
    {
        var response = await Admin.PostAsJsonAsync("/v1/admin/keys", new { name = "ci", rate_limit_per_minute = 50, max_queued_jobs = 7 });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await ReadJsonAsync(response);
        var id = created.GetProperty("id").GetString()!;
        var token = created.GetProperty("token").GetString()!;
        Assert.Matches("^key_[0-9a-f]{16}$", id);
        Assert.Matches("^esk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$", token);
        Assert.Equal($"esk_{id[4..]}", created.GetProperty("prefix").GetString());
        Assert.Equal($"/v1/admin/keys/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(50, created.GetProperty("rate_limit_per_minute").GetInt32());
        Assert.Equal(7, created.GetProperty("max_queued_jobs").GetInt32());

        var row = await Factory.WithDbAsync(db => db.ApiKeys.AsNoTracking().SingleAsync(k => k.Id == id));
        Assert.Equal(ApiKeyTokens.Hash(token), row.SecretHash);
        Assert.DoesNotContain(token[^43..], JsonSerializer.Serialize(row));

        var listed = await Admin.GetStringAsync("/v1/admin/keys");
        Assert.DoesNotContain(token[^43..], listed);
        var entry = JsonDocument.Parse(listed).RootElement.GetProperty("data").EnumerateArray().Single(k => k.GetProperty("id").GetString() == id);
        Assert.False(entry.TryGetProperty("token", out _));
        Assert.Equal("ci", entry.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, entry.GetProperty("revoked_at").ValueKind);
        Assert.Equal(HttpStatusCode.OK, (await WithBearer(token).GetAsync("/v1/models")).StatusCode);
        Assert.Contains(Factory.Logs.Lines, l => l.Text.Contains($"API key {id} (esk_{id[4..]}) created", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Neither_the_admin_key_nor_a_token_ever_reaches_the_log()
    {
        var (id, token) = await CreateKeyAsync("logged");
        await WithBearer(token).GetAsync("/v1/models");
        await Admin.DeleteAsync($"/v1/admin/keys/{id}");
        await WithBearer(token).GetAsync("/v1/models");
        await WithBasic("admin", AuthApiFactory.AdminKey).GetAsync("/hangfire");

        var lines = Factory.Logs.Lines;
        Assert.Contains(lines, l => l.Text.Contains($"API key {id}", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Text.Contains(AuthApiFactory.AdminKey, StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Text.Contains(token[^43..], StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{}", "name")]
    [InlineData("{\"name\":\"  \"}", "name")]
    [InlineData("{\"name\":\"x\",\"rate_limit_per_minute\":0}", "rate_limit_per_minute")]
    [InlineData("{\"name\":\"x\",\"max_queued_jobs\":-1}", "max_queued_jobs")]
    [InlineData("{\"name\":\"x\",\"rate_limit\":10}", "rate_limit")]
    [InlineData("{\"name\":\"x\",\"name\":\"y\"}", "name")]
    [InlineData("{\"name\":\"x\",\"max_queued_jobs\":\"ten\"}", "max_queued_jobs")]
    [InlineData("[]", "body")]
    public async Task Invalid_key_request_is_a_400_naming_the_field(string body, string field)
    {
        var response = await Admin.PostAsync("/v1/admin/keys", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await ReadJsonAsync(response)).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task Key_request_with_a_misspelt_field_is_refused_suggesting_the_known_name_and_creates_no_key()
    {
        var keysBefore = await Factory.WithDbAsync(db => db.ApiKeys.CountAsync());

        var response = await Admin.PostAsync("/v1/admin/keys", new StringContent("{\"name\":\"ci\",\"max_queud_jobs\":3}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var message = (await ReadJsonAsync(response)).GetProperty("errors").GetProperty("max_queud_jobs")[0].GetString();
        Assert.Contains("did you mean 'max_queued_jobs'?", message);
        Assert.Equal(keysBefore, await Factory.WithDbAsync(db => db.ApiKeys.CountAsync()));
    }

    [Fact]
    public async Task Key_request_in_another_content_type_is_a_415_with_errors()
    {
        var response = await Admin.PostAsync("/v1/admin/keys", new StringContent("name=ci", Encoding.UTF8, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.True((await ReadJsonAsync(response)).GetProperty("errors").TryGetProperty("Content-Type", out _));
    }

    [Fact]
    public async Task Revoked_key_is_refused_with_401_and_revoking_an_unknown_key_is_404()
    {
        var (id, token) = await CreateKeyAsync("to-revoke");
        var client = WithBearer(token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/models")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/v1/admin/keys/{id}")).StatusCode);

        var refused = await client.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("revoked", (await ReadJsonAsync(refused)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/v1/generations", JsonContent(ValidRequest()))).StatusCode);
        var listed = await ReadJsonAsync(await Admin.GetAsync($"/v1/admin/keys/{id}"));
        Assert.NotEqual(JsonValueKind.Null, listed.GetProperty("revoked_at").ValueKind);
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/v1/admin/keys/{id}")).StatusCode);
        var unknown = await Admin.DeleteAsync("/v1/admin/keys/key_0000000000000000");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Ordinary_key_on_admin_endpoints_is_403_problem()
    {
        var (id, token) = await CreateKeyAsync("ordinary");
        var client = WithBearer(token);

        var responses = new[]
        {
            await client.GetAsync("/v1/admin/keys"),
            await client.PostAsJsonAsync("/v1/admin/keys", new { name = "escalation" }),
            await client.DeleteAsync($"/v1/admin/keys/{id}"),
        };

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode));
        Assert.All(responses, r => Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType));
        Assert.Equal(1, await Factory.WithDbAsync(db => db.ApiKeys.CountAsync(k => k.Name == "ordinary" && k.RevokedAt == null)));
        Assert.Equal(0, await Factory.WithDbAsync(db => db.ApiKeys.CountAsync(k => k.Name == "escalation")));
    }

    [Fact]
    public async Task Job_and_its_image_belong_to_the_key_that_submitted_it_and_another_key_gets_404()
    {
        var (ownerId, ownerToken) = await CreateKeyAsync("tenant-a");
        var (_, otherToken) = await CreateKeyAsync("tenant-b");
        var owner = WithBearer(ownerToken);
        var other = WithBearer(otherToken);

        var submitted = await owner.PostAsync("/v1/generations", JsonContent(ValidRequest()));
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var jobId = (await ReadJsonAsync(submitted)).GetProperty("id").GetGuid();
        Assert.Equal(ownerId, await Factory.WithDbAsync(db => db.Jobs.Where(j => j.Id == jobId).Select(j => j.Owner).SingleAsync()));
        var imageId = await FinishJobWithAnImageAsync(jobId);

        Assert.Equal(HttpStatusCode.OK, (await owner.GetAsync($"/v1/jobs/{jobId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await owner.GetAsync($"/v1/images/{imageId}")).StatusCode);
        foreach (var stranger in new[] { other, Admin })
        {
            var job = await stranger.GetAsync($"/v1/jobs/{jobId}");
            var image = await stranger.GetAsync($"/v1/images/{imageId}");
            Assert.Equal(HttpStatusCode.NotFound, job.StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, image.StatusCode);
            // The same answer as for an id that does not exist, so that other tenants' ids are not confirmed.
            Assert.Equal((await ReadJsonAsync(job)).GetProperty("title").GetString(),
                (await ReadJsonAsync(await stranger.GetAsync($"/v1/jobs/{Guid.NewGuid()}"))).GetProperty("title").GetString());
        }
    }

    [Fact]
    public async Task What_the_admin_key_submits_is_owned_by_admin()
    {
        var submitted = await Admin.PostAsync("/v1/generations", JsonContent(ValidRequest()));

        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var jobId = (await ReadJsonAsync(submitted)).GetProperty("id").GetGuid();
        Assert.Equal("admin", await Factory.WithDbAsync(db => db.Jobs.Where(j => j.Id == jobId).Select(j => j.Owner).SingleAsync()));
        Assert.Equal(HttpStatusCode.OK, (await Admin.GetAsync($"/v1/jobs/{jobId}")).StatusCode);
    }

    [Fact]
    public async Task Key_over_its_rate_limit_gets_429_problem_with_retry_after_while_other_keys_go_on()
    {
        var (_, token) = await CreateKeyAsync("limited", rateLimitPerMinute: 3);
        var (_, otherToken) = await CreateKeyAsync("unlimited");
        var client = WithBearer(token);

        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/models")).StatusCode);
        var refused = await client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var retryAfter = refused.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        Assert.Contains("3 requests per minute", (await ReadJsonAsync(refused)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.PostAsync("/v1/generations", JsonContent(ValidRequest()))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await WithBearer(otherToken).GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task Submit_beyond_the_keys_queued_jobs_cap_is_429_naming_the_cap_and_stores_nothing()
    {
        var (id, token) = await CreateKeyAsync("queue-capped", maxQueuedJobs: 2);
        var client = WithBearer(token);
        for (var i = 0; i < 2; i++)
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/v1/generations", JsonContent(ValidRequest()))).StatusCode);

        var refused = await client.PostAsync("/v1/generations", JsonContent(ValidRequest()));

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, refused.Headers.RetryAfter?.ToString());
        var detail = (await ReadJsonAsync(refused)).GetProperty("detail").GetString();
        Assert.Contains("at most 2 jobs queued", detail);
        Assert.Contains("max_queued_jobs", detail);
        Assert.Equal(2, await Factory.WithDbAsync(db => db.Jobs.CountAsync(j => j.Owner == id)));

        // A job that leaves the queue makes room again.
        await Factory.WithDbAsync(async db =>
        {
            var job = await db.Jobs.FirstAsync(j => j.Owner == id);
            job.Status = JobStatus.Running;
            return await db.SaveChangesAsync();
        });
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/v1/generations", JsonContent(ValidRequest()))).StatusCode);
    }

    [Fact]
    public async Task Dashboard_admits_the_admin_key_as_bearer_or_basic_password_and_challenges_everyone_else()
    {
        var (_, token) = await CreateKeyAsync("not-an-admin");

        Assert.Equal(HttpStatusCode.OK, (await Admin.GetAsync("/hangfire")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await WithBasic("anyone", AuthApiFactory.AdminKey).GetAsync("/hangfire")).StatusCode);
        // A valid ordinary key is known but not an admin: 403, as on the admin endpoints.
        Assert.Equal(HttpStatusCode.Forbidden, (await WithBearer(token).GetAsync("/hangfire")).StatusCode);
        foreach (var client in new[] { Client, WithBasic("admin", token), WithBasic("admin", AuthApiFactory.AdminKey + "x"), WithBearer("esk_unknown") })
        {
            var response = await client.GetAsync("/hangfire");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var challenge = Assert.Single(response.Headers.WwwAuthenticate);
            Assert.Equal("Basic", challenge.Scheme);
            Assert.Contains("realm=\"Easel\"", challenge.Parameter);
        }
    }

    [Fact]
    public async Task Swagger_documents_the_bearer_scheme_and_the_401_403_429_problems()
    {
        var document = await ReadJsonAsync(await Client.GetAsync("/swagger/v1/swagger.json"));

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        var paths = document.GetProperty("paths");
        var post = paths.GetProperty("/v1/generations").GetProperty("post");
        Assert.True(post.GetProperty("security")[0].TryGetProperty("Bearer", out _));
        foreach (var status in new[] { "401", "429" })
            Assert.True(post.GetProperty("responses").GetProperty(status).GetProperty("content").TryGetProperty("application/problem+json", out _), status);
        Assert.True(paths.GetProperty("/v1/admin/keys").GetProperty("post").GetProperty("responses").TryGetProperty("403", out _));
    }

    private HttpClient WithBearer(string token)
    {
        var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private HttpClient WithBasic(string user, string password)
    {
        var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return client;
    }

    private async Task<(string Id, string Token)> CreateKeyAsync(string name, int? rateLimitPerMinute = null, int? maxQueuedJobs = null)
    {
        var response = await Admin.PostAsJsonAsync("/v1/admin/keys",
            new { name, rate_limit_per_minute = rateLimitPerMinute, max_queued_jobs = maxQueuedJobs });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await ReadJsonAsync(response);
        return (created.GetProperty("id").GetString()!, created.GetProperty("token").GetString()!);
    }

    private static StringContent JsonContent(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    /// <summary>Finishes a queued job the way a worker does: PNG bytes in the blob store, an Image row, status succeeded.</summary>
    private async Task<Guid> FinishJobWithAnImageAsync(Guid jobId)
    {
        var png = Easel.Inference.Imaging.PngEncoder.Encode(
            new Easel.Inference.Pipelines.GeneratedImage(8, 8, Enumerable.Range(0, 8 * 8 * 3).Select(i => (byte)i).ToArray()));
        var blob = await Factory.Services.GetRequiredService<IBlobStore>().PutAsync(png);
        var imageId = Guid.NewGuid();
        await Factory.WithDbAsync(async db =>
        {
            var job = await db.Jobs.SingleAsync(j => j.Id == jobId);
            var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            job.Status = JobStatus.Succeeded;
            job.StartedAt = job.FinishedAt = now;
            db.Images.Add(new Image
            {
                Id = imageId, JobId = jobId, Index = 0, BlobKey = blob.Key, Sha256 = blob.Sha256, ByteSize = blob.ByteSize,
                Width = 8, Height = 8, Seed = 1, ContentType = "image/png", CreatedAt = now,
            });
            return await db.SaveChangesAsync();
        });
        return imageId;
    }
}

public sealed class AuthApiTestsOnSqlite(SqliteAuthApiFactory factory) : AuthApiTests<SqliteAuthApiFactory>(factory);

public sealed class AuthApiTestsOnPostgres(PostgresAuthApiFactory factory) : AuthApiTests<PostgresAuthApiFactory>(factory);
