using Easel.Testing;
using Microsoft.AspNetCore.Hosting;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// The outbox dispatcher is woken by the commit that writes a webhook message, not only by its poll. Here polls are a
/// minute apart (the longest interval allowed) and the first is at start-up, before any job: deliveries within seconds
/// can only come from that wake-up. No latency threshold is measured, so a busy machine cannot fail the test.
/// </summary>
public abstract class WebhookWakeUpTests<TFactory>(TFactory factory) : WebhookTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    public const string PollInterval = "00:01:00";

    [Fact]
    public async Task Each_finished_job_wakes_the_dispatcher_and_its_webhook_is_delivered_without_a_poll()
    {
        await using var receiver = await WebhookReceiver.StartAsync();

        for (var delivered = 1; delivered <= 3; delivered++)
        {
            await RunJobAsync(receiver.Url);
            await receiver.WaitForAsync(delivered, DeliveryDeadline);
        }
    }
}

public sealed class SqliteWakeUpWebhookFactory : EaselApiFactory
{
    protected override bool InProcessWorkers => true;

    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        WebhookTestSettings.Apply(builder, allowPrivateTargets: true, WebhookWakeUpTests<SqliteWakeUpWebhookFactory>.PollInterval);
    }
}

public sealed class PostgresWakeUpWebhookFactory : EaselApiFactory
{
    protected override bool InProcessWorkers => true;

    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabase.CreatePostgresAsync();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        WebhookTestSettings.Apply(builder, allowPrivateTargets: true, WebhookWakeUpTests<PostgresWakeUpWebhookFactory>.PollInterval);
    }
}

public sealed class WebhookWakeUpTestsOnSqlite(SqliteWakeUpWebhookFactory factory) : WebhookWakeUpTests<SqliteWakeUpWebhookFactory>(factory);

public sealed class WebhookWakeUpTestsOnPostgres(PostgresWakeUpWebhookFactory factory) : WebhookWakeUpTests<PostgresWakeUpWebhookFactory>(factory);
