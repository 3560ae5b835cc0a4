using Easel.Testing;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// Tests that read the Prometheus endpoint of an in-process host. OpenTelemetry's meter provider listens to every meter
/// named "Easel" in the process, and disposing one (another test class's host shutting down) stops the streams of all
/// same-named instruments in every provider (open-telemetry/opentelemetry-dotnet#6412). A deployed process has one host;
/// the test process has many. This assembly runs its classes one at a time (AssemblyInfo.cs), each disposing its host
/// before the next starts; this collection keeps these tests alone should classes ever run in parallel.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PrometheusScrapeCollection
{
    public const string Name = "Prometheus scrape";
}

[Collection(PrometheusScrapeCollection.Name)]
public sealed class WebhookMetricsTests(SqliteWebhookFactory factory) : WebhookTestBase<SqliteWebhookFactory>(factory)
{
    [Fact]
    public async Task Webhook_outcomes_and_latency_are_exported_as_metrics()
    {
        await using var receiver = await WebhookReceiver.StartAsync(n => n == 1 ? 503 : 200);
        var job = await RunJobAsync(receiver.Url);
        await WaitForDeliveriesAsync(job, d => d.All(x => x.GetProperty("status").GetString() == "delivered"));

        var deadline = DateTimeOffset.UtcNow.AddSeconds(10);
        string[] lines;
        while (true)
        {
            lines = (await Client.GetStringAsync("/metrics")).Split('\n');
            if (lines.Any(l => l.StartsWith("easel_webhook_attempts_total{", StringComparison.Ordinal) && l.Contains("outcome=\"delivered\"")
                    && l.Contains("status_class=\"2xx\""))
                && lines.Any(l => l.StartsWith("easel_webhook_attempts_total{", StringComparison.Ordinal) && l.Contains("outcome=\"retry\"")
                    && l.Contains("status_class=\"5xx\"")))
                break;
            Assert.True(DateTimeOffset.UtcNow < deadline, "webhook attempts are missing from /metrics:\n" + string.Join('\n', lines.Where(l => l.Contains("webhook"))));
            await Task.Delay(200);
        }
        Assert.Contains(lines, l => l.StartsWith("easel_webhook_duration_seconds_bucket{", StringComparison.Ordinal));
    }
}
