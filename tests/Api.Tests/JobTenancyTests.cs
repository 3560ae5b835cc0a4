using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Easel.Testing;

namespace Easel.Api.Tests;

/// <summary>The job API with API keys on: lists, cancels and idempotency keys belong to the calling key.</summary>
public abstract class JobTenancyTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : AuthApiFactory
{
    private async Task<HttpClient> NewKeyClientAsync(string name)
    {
        var admin = Factory.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AuthApiFactory.AdminKey);
        var response = await admin.PostAsJsonAsync("/v1/admin/keys", new { name });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await ReadJsonAsync(response)).GetProperty("token").GetString());
        return client;
    }

    private static HttpRequestMessage Post(string key) => new(HttpMethod.Post, "/v1/generations")
    {
        Content = new StringContent(ValidRequest().ToJsonString(), Encoding.UTF8, "application/json"),
        Headers = { { "Idempotency-Key", key } },
    };

    [Fact]
    public async Task The_same_idempotency_key_from_two_api_keys_creates_two_jobs()
    {
        var alice = await NewKeyClientAsync("alice");
        var bob = await NewKeyClientAsync("bob");
        var key = Guid.NewGuid().ToString();

        var fromAlice = await alice.SendAsync(Post(key));
        var fromBob = await bob.SendAsync(Post(key));
        var aliceAgain = await alice.SendAsync(Post(key));

        Assert.Equal(HttpStatusCode.Accepted, fromAlice.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, fromBob.StatusCode);
        Assert.Equal(HttpStatusCode.OK, aliceAgain.StatusCode);
        var aliceJob = (await ReadJsonAsync(fromAlice)).GetProperty("id").GetGuid();
        Assert.NotEqual(aliceJob, (await ReadJsonAsync(fromBob)).GetProperty("id").GetGuid());
        Assert.Equal(aliceJob, (await ReadJsonAsync(aliceAgain)).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task A_stored_input_can_be_referred_to_only_by_the_key_whose_job_stored_it()
    {
        var alice = await NewKeyClientAsync("alice");
        var bob = await NewKeyClientAsync("bob");
        var body = ValidRequest();
        body.Remove("width");
        body.Remove("height");
        body["image"] = Convert.ToBase64String(TestImages.Png());
        var stored = await ReadJsonAsync(await alice.PostAsync("/v1/generations", Json(body.ToJsonString())));
        var shown = stored.GetProperty("request").GetRawText();

        var aliceAgain = await alice.PostAsync("/v1/generations", Json(shown));
        var fromBob = await bob.PostAsync("/v1/generations", Json(shown));

        Assert.Equal(HttpStatusCode.Accepted, aliceAgain.StatusCode);
        Assert.Equal(stored.GetProperty("request").GetProperty("image").GetProperty("blob").GetString(),
            (await ReadJsonAsync(aliceAgain)).GetProperty("request").GetProperty("image").GetProperty("blob").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, fromBob.StatusCode);
        Assert.True((await ReadJsonAsync(fromBob)).GetProperty("errors").TryGetProperty("image", out _));
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_key_lists_and_cancels_only_its_own_jobs()
    {
        var alice = await NewKeyClientAsync("alice");
        var bob = await NewKeyClientAsync("bob");
        var aliceJobs = new List<Guid>();
        for (var i = 0; i < 3; i++)
            aliceJobs.Add((await ReadJsonAsync(await alice.SendAsync(Post(Guid.NewGuid().ToString())))).GetProperty("id").GetGuid());
        var bobJob = (await ReadJsonAsync(await bob.SendAsync(Post(Guid.NewGuid().ToString())))).GetProperty("id").GetGuid();

        var listed = await alice.GetFromJsonAsync<JsonElement>("/v1/jobs?limit=100");
        var cancelBobs = await alice.PostAsync($"/v1/jobs/{bobJob}/cancel", null);
        var bobsView = await bob.GetFromJsonAsync<JsonElement>($"/v1/jobs/{bobJob}");

        Assert.Equal(aliceJobs.Order(), listed.GetProperty("data").EnumerateArray().Select(j => j.GetProperty("id").GetGuid()).Order());
        Assert.Equal(HttpStatusCode.NotFound, cancelBobs.StatusCode);
        Assert.Equal("queued", bobsView.GetProperty("status").GetString());
    }
}

public sealed class JobTenancyTestsOnSqlite(SqliteAuthApiFactory factory) : JobTenancyTests<SqliteAuthApiFactory>(factory);

public sealed class JobTenancyTestsOnPostgres(PostgresAuthApiFactory factory) : JobTenancyTests<PostgresAuthApiFactory>(factory);
