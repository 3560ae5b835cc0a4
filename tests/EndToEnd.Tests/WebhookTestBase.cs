using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;

namespace Easel.EndToEnd.Tests;

/// <summary>Steps shared by the webhook tests: run a job that posts to a receiver, wait for its deliveries to settle.</summary>
public abstract class WebhookTestBase<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    protected static readonly TimeSpan JobDeadline = TimeSpan.FromMinutes(2);
    protected static readonly TimeSpan DeliveryDeadline = TimeSpan.FromSeconds(20);

    protected async Task<JsonElement> RunJobAsync(string? webhook, string[]? events = null)
    {
        var body = ValidRequest();
        if (webhook is not null)
            body["webhook"] = webhook;
        if (events is not null)
            body["webhook_events"] = new JsonArray([.. events.Select(e => (JsonNode)e)]);
        var response = await PostGenerationAsync(body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await JobPolling.UntilFinishedAsync(Client, response.Headers.Location!.OriginalString, JobDeadline);
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        return job;
    }

    protected async Task<string> GetSecretAsync() =>
        (await Client.GetFromJsonAsync<JsonElement>("/v1/webhooks/secret")).GetProperty("secret").GetString()!;

    protected async Task<JsonElement> WaitForDeliveriesAsync(JsonElement job, Func<List<JsonElement>, bool> done)
    {
        var path = $"/v1/jobs/{job.GetProperty("id").GetGuid()}/webhook-deliveries";
        var deadline = DateTimeOffset.UtcNow + DeliveryDeadline;
        while (true)
        {
            var deliveries = (await Client.GetFromJsonAsync<JsonElement>(path)).GetProperty("data");
            var list = deliveries.EnumerateArray().ToList();
            if (list.Count > 0 && done(list))
                return deliveries;
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException($"The deliveries did not reach the expected state: {deliveries}");
            await Task.Delay(50);
        }
    }
}
