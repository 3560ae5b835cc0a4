using System.Net;
using System.Text.Json;
using Easel.Core.Jobs;
using Easel.Testing;
using Microsoft.AspNetCore.Hosting;

namespace Easel.EndToEnd.Tests;

/// <summary>SSRF: with private targets not allowed (the production default), webhooks never reach the inside of the network.</summary>
public abstract class WebhookTargetTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    [Theory]
    [InlineData("http://127.0.0.1:8080/hook")]
    [InlineData("http://10.0.0.5/hook")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://[::1]/hook")]
    [InlineData("http://localhost./hook")]
    public async Task Webhook_to_a_literal_private_address_is_refused_at_submit_naming_the_webhook_field(string url)
    {
        var body = ValidRequest();
        body["webhook"] = url;
        var jobsBefore = await Factory.CountJobsAsync();

        var response = await PostGenerationAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ReadJsonAsync(response);
        Assert.Contains("refused", problem.GetProperty("errors").GetProperty("webhook")[0].GetString());
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task Hostname_resolving_to_a_forbidden_address_is_refused_at_connect_without_retries()
    {
        // The machine's own name passes the submit check (it is not an address literal) but resolves to loopback, or to
        // the host's private address in a container: exactly what a DNS name planted to reach inside looks like.
        var host = Dns.GetHostName();
        var forbidden = (await Dns.GetHostAddressesAsync(host)).FirstOrDefault(WebhookTargetPolicy.IsForbidden);
        Assert.True(forbidden is not null, $"this test needs the machine name '{host}' to resolve to a loopback or private address");
        await using var receiver = await WebhookReceiver.StartAsync();
        var body = ValidRequest();
        body["webhook"] = $"http://{host}:{receiver.Port}/hook";

        var response = await PostGenerationAsync(body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await JobPolling.UntilFinishedAsync(Client, response.Headers.Location!.OriginalString, TimeSpan.FromMinutes(2));
        var delivery = await WaitForFailedDeliveryAsync(job.GetProperty("id").GetGuid());
        await Task.Delay(1000); // no retry may follow

        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        var final = await WaitForFailedDeliveryAsync(job.GetProperty("id").GetGuid());
        Assert.Equal(1, final.GetProperty("attempt_count").GetInt32());
        var attempt = Assert.Single(final.GetProperty("attempts").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, attempt.GetProperty("status_code").ValueKind);
        var error = attempt.GetProperty("error").GetString()!;
        Assert.Matches($"^target address .+ is (loopback|private|link-local); refused$", error);
        Assert.Equal(error, delivery.GetProperty("last_error").GetString());
        Assert.Empty(receiver.Received);
    }

    private async Task<JsonElement> WaitForFailedDeliveryAsync(Guid jobId)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(20);
        while (true)
        {
            var deliveries = (await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<JsonElement>(Client, $"/v1/jobs/{jobId}/webhook-deliveries")).GetProperty("data");
            if (deliveries.GetArrayLength() == 1 && deliveries[0].GetProperty("status").GetString() == "failed")
                return deliveries[0];
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException($"The delivery did not fail: {deliveries}");
            await Task.Delay(50);
        }
    }
}

public sealed class SqliteGuardedWebhookFactory : EaselApiFactory
{
    protected override bool InProcessWorkers => true;

    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        WebhookTestSettings.Apply(builder, allowPrivateTargets: false);
    }
}

public sealed class PostgresGuardedWebhookFactory : EaselApiFactory
{
    protected override bool InProcessWorkers => true;

    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabase.CreatePostgresAsync();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        WebhookTestSettings.Apply(builder, allowPrivateTargets: false);
    }
}

public sealed class WebhookTargetTestsOnSqlite(SqliteGuardedWebhookFactory factory) : WebhookTargetTests<SqliteGuardedWebhookFactory>(factory);

public sealed class WebhookTargetTestsOnPostgres(PostgresGuardedWebhookFactory factory) : WebhookTargetTests<PostgresGuardedWebhookFactory>(factory);

