using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Easel.Core.Jobs;
using Microsoft.EntityFrameworkCore;

using Easel.Testing;

namespace Easel.Api.Tests;

/// <summary>With authentication on, secrets and deliveries belong to the API key: another key neither sees nor changes them.</summary>
public abstract class WebhookTenantTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : AuthApiFactory
{
    [Fact]
    public async Task Each_api_key_has_its_own_signing_secret_and_rotating_one_leaves_the_other_alone()
    {
        var alice = await ClientOfNewKeyAsync("alice");
        var bob = await ClientOfNewKeyAsync("bob");

        var aliceSecret = await SecretOfAsync(alice);
        var bobSecret = await SecretOfAsync(bob);
        var rotation = await ReadJsonAsync(await alice.PostAsync("/v1/webhooks/secret/rotate", null));

        Assert.NotEqual(aliceSecret, bobSecret);
        Assert.NotEqual(aliceSecret, rotation.GetProperty("secret").GetString());
        Assert.Equal(rotation.GetProperty("secret").GetString(), await SecretOfAsync(alice));
        Assert.Equal(bobSecret, await SecretOfAsync(bob));
        var bobView = await bob.GetFromJsonAsync<JsonElement>("/v1/webhooks/secret");
        Assert.Equal(JsonValueKind.Null, bobView.GetProperty("previous_secret_expires_at").ValueKind);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Client.GetAsync("/v1/webhooks/secret")).StatusCode);
    }

    [Fact]
    public async Task Another_key_gets_404_for_the_deliveries_of_a_job_and_cannot_redeliver_them()
    {
        var alice = await ClientOfNewKeyAsync("alice-jobs");
        var bob = await ClientOfNewKeyAsync("bob-jobs");
        var body = ValidRequest();
        body["webhook"] = "https://hooks.example.com/easel";
        var created = await alice.PostAsync("/v1/generations", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var jobId = (await ReadJsonAsync(created)).GetProperty("id").GetGuid();
        // No worker runs in this fixture: write the completion as a worker does, through the event log (outbox row).
        var deliveryId = await Factory.WithDbAsync(async db =>
        {
            var job = await db.Jobs.SingleAsync(j => j.Id == jobId);
            job.Status = JobStatus.Failed;
            job.Error = "stopped by the test";
            job.FinishedAt = DateTimeOffset.UtcNow;
            JobEventLog.Append(db, job, JobEventType.Failed, job.FinishedAt.Value);
            await db.SaveChangesAsync();
            return (await db.WebhookDeliveries.SingleAsync(d => d.JobId == jobId)).Id;
        });
        var path = $"/v1/jobs/{jobId}/webhook-deliveries";

        var own = await alice.GetFromJsonAsync<JsonElement>(path);
        var foreign = await bob.GetAsync(path);
        var foreignRedeliver = await bob.PostAsync($"{path}/{deliveryId}/redeliver", null);
        var ownRedeliver = await alice.PostAsync($"{path}/{deliveryId}/redeliver", null);

        Assert.Equal(deliveryId, Assert.Single(own.GetProperty("data").EnumerateArray()).GetProperty("id").GetGuid());
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, foreignRedeliver.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, ownRedeliver.StatusCode);
    }

    private async Task<HttpClient> ClientOfNewKeyAsync(string name)
    {
        var admin = Factory.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AuthApiFactory.AdminKey);
        var response = await admin.PostAsJsonAsync("/v1/admin/keys", new { name });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await ReadJsonAsync(response)).GetProperty("token").GetString());
        return client;
    }

    private static async Task<string> SecretOfAsync(HttpClient client) =>
        (await client.GetFromJsonAsync<JsonElement>("/v1/webhooks/secret")).GetProperty("secret").GetString()!;
}

public sealed class WebhookTenantTestsOnSqlite(SqliteAuthApiFactory factory) : WebhookTenantTests<SqliteAuthApiFactory>(factory);

public sealed class WebhookTenantTestsOnPostgres(PostgresAuthApiFactory factory) : WebhookTenantTests<PostgresAuthApiFactory>(factory);
