using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Core.Jobs;
using Easel.Testing;
using Easel.Workers.Webhooks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// Webhooks end to end: a real in-process worker runs the fixture model, the outbox delivers to a real receiver on
/// 127.0.0.1 (so private targets are allowed here), with a short retry schedule (0.3 s, 0.3 s: three attempts).
/// </summary>
public abstract class WebhookDeliveryTests<TFactory>(TFactory factory) : WebhookTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    [Fact]
    public async Task Completed_webhook_is_signed_with_the_secret_from_the_api_and_carries_the_finished_job()
    {
        await using var receiver = await WebhookReceiver.StartAsync();

        var job = await RunJobAsync(receiver.Url);
        var webhook = Assert.Single(await receiver.WaitForAsync(1, DeliveryDeadline));

        var secret = await GetSecretAsync();
        Assert.StartsWith("whsec_", secret);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);
        Assert.True(webhook.IsSignedWith(secret), $"signature {webhook.Signature} does not verify");
        Assert.False(webhook.IsSignedWith("whsec_" + Convert.ToBase64String(new byte[32])));
        Assert.InRange(long.Parse(webhook.Timestamp), DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal("application/json", webhook.ContentType);
        Assert.Equal("Easel", webhook.UserAgent);

        var body = JsonDocument.Parse(webhook.Body).RootElement;
        Assert.Equal(job.GetProperty("id").GetGuid(), body.GetProperty("id").GetGuid());
        Assert.Equal("succeeded", body.GetProperty("status").GetString());
        Assert.Single(body.GetProperty("images").EnumerateArray());

        var delivery = Assert.Single((await WaitForDeliveriesAsync(job, d => d.All(x => x.GetProperty("status").GetString() == "delivered"))).EnumerateArray());
        Assert.Equal(webhook.Id, delivery.GetProperty("webhook_id").GetString());
        Assert.Equal($"msg_{delivery.GetProperty("id").GetGuid()}", webhook.Id);
        Assert.Equal("completed", delivery.GetProperty("event").GetString());
        Assert.Equal(receiver.Url, delivery.GetProperty("url").GetString());
        Assert.Equal(1, delivery.GetProperty("attempt_count").GetInt32());
        Assert.Equal(JsonValueKind.Null, delivery.GetProperty("next_attempt_at").ValueKind);
        var attempt = Assert.Single(delivery.GetProperty("attempts").EnumerateArray());
        Assert.Equal(200, attempt.GetProperty("status_code").GetInt32());
        Assert.True(attempt.GetProperty("latency_ms").GetInt32() >= 0);
        Assert.Equal(JsonValueKind.Null, attempt.GetProperty("error").ValueKind);
    }

    [Fact]
    public async Task Receiver_failing_twice_then_succeeding_gets_three_attempts_with_one_webhook_id_and_one_accepted_delivery()
    {
        await using var receiver = await WebhookReceiver.StartAsync(n => n <= 2 ? 500 : 200);

        var job = await RunJobAsync(receiver.Url);
        var webhooks = await receiver.WaitForAsync(3, DeliveryDeadline);
        var deliveries = await WaitForDeliveriesAsync(job, d => d.All(x => x.GetProperty("status").GetString() == "delivered"));
        await Task.Delay(1000); // a fourth attempt would come 0.3 s after a failure

        Assert.Equal(3, receiver.Received.Count);
        Assert.Equal([500, 500, 200], webhooks.Select(w => w.AnsweredStatus));
        Assert.Single(webhooks.Select(w => w.Id).Distinct());
        Assert.Single(webhooks.Select(w => w.Body).Distinct());
        Assert.Single(webhooks, w => w.AnsweredStatus / 100 == 2);
        var secret = await GetSecretAsync();
        Assert.All(webhooks, w => Assert.True(w.IsSignedWith(secret)));

        var delivery = Assert.Single(deliveries.EnumerateArray());
        Assert.Equal(3, delivery.GetProperty("attempt_count").GetInt32());
        Assert.Equal(JsonValueKind.Null, delivery.GetProperty("last_error").ValueKind);
        var attempts = delivery.GetProperty("attempts").EnumerateArray().ToList();
        Assert.Equal([1, 2, 3], attempts.Select(a => a.GetProperty("number").GetInt32()));
        Assert.Equal([500, 500, 200], attempts.Select(a => a.GetProperty("status_code").GetInt32()));
        Assert.Equal(["HTTP 500", "HTTP 500"], attempts.Take(2).Select(a => a.GetProperty("error").GetString()));

        var deliveryId = delivery.GetProperty("id").GetGuid();
        var rows = await Factory.WithDbAsync(db => db.WebhookAttempts.AsNoTracking().Where(a => a.DeliveryId == deliveryId).ToListAsync());
        Assert.Equal(3, rows.Count);
    }

    [Fact]
    public async Task Gone_410_stops_retries_and_fails_the_delivery()
    {
        await using var receiver = await WebhookReceiver.StartAsync(_ => 410);

        var job = await RunJobAsync(receiver.Url);
        var delivery = Assert.Single((await WaitForDeliveriesAsync(job, d => d.All(x => x.GetProperty("status").GetString() == "failed"))).EnumerateArray());
        await Task.Delay(1000); // a retry would come 0.3 s after the first attempt

        Assert.Single(receiver.Received);
        Assert.Equal(1, delivery.GetProperty("attempt_count").GetInt32());
        Assert.Equal(410, Assert.Single(delivery.GetProperty("attempts").EnumerateArray()).GetProperty("status_code").GetInt32());
        Assert.Contains("410", delivery.GetProperty("last_error").GetString());
    }

    [Fact]
    public async Task Started_and_completed_events_are_both_posted_in_order()
    {
        await using var receiver = await WebhookReceiver.StartAsync();

        var job = await RunJobAsync(receiver.Url, ["started", "completed"]);
        var webhooks = await receiver.WaitForAsync(2, DeliveryDeadline);

        Assert.Equal(["running", "succeeded"], webhooks.Select(w => JsonDocument.Parse(w.Body).RootElement.GetProperty("status").GetString()));
        Assert.Equal(2, webhooks.Select(w => w.Id).Distinct().Count());
        var deliveries = await WaitForDeliveriesAsync(job, d => d.All(x => x.GetProperty("status").GetString() == "delivered"));
        Assert.Equal(["started", "completed"], deliveries.EnumerateArray().Select(d => d.GetProperty("event").GetString()));
        Assert.Equal(webhooks.Select(w => w.Id), deliveries.EnumerateArray().Select(d => d.GetProperty("webhook_id").GetString()));
    }

    [Fact]
    public async Task After_a_rotation_both_secrets_sign_and_each_signature_verifies()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var before = await GetSecretAsync();

        var rotation = await Client.PostAsync("/v1/webhooks/secret/rotate", null);

        Assert.Equal(HttpStatusCode.OK, rotation.StatusCode);
        var rotated = await ReadJsonAsync(rotation);
        var after = rotated.GetProperty("secret").GetString()!;
        Assert.NotEqual(before, after);
        Assert.InRange(rotated.GetProperty("previous_secret_expires_at").GetDateTimeOffset(),
            DateTimeOffset.UtcNow.AddHours(23), DateTimeOffset.UtcNow.AddHours(25));
        var read = await Client.GetFromJsonAsync<JsonElement>("/v1/webhooks/secret");
        Assert.Equal(after, read.GetProperty("secret").GetString());

        await RunJobAsync(receiver.Url);
        var webhook = Assert.Single(await receiver.WaitForAsync(1, DeliveryDeadline));

        var signatures = webhook.Signature.Split(' ');
        Assert.Equal(2, signatures.Length);
        Assert.All(signatures, s => Assert.StartsWith("v1,", s));
        Assert.True((webhook with { Signature = signatures[0] }).IsSignedWith(after));
        Assert.True((webhook with { Signature = signatures[1] }).IsSignedWith(before));
    }

    [Fact]
    public async Task Dead_receiver_does_not_hold_up_jobs_and_its_delivery_fails_after_the_last_retry()
    {
        var deadUrl = await ClosedPortUrlAsync();

        var job = await RunJobAsync(deadUrl);
        // While the first job's webhook is being retried, the worker runs the next job.
        var next = await RunJobAsync(null);

        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal("succeeded", next.GetProperty("status").GetString());
        var delivery = Assert.Single((await WaitForDeliveriesAsync(job, d => d.All(x => x.GetProperty("status").GetString() == "failed"))).EnumerateArray());
        Assert.Equal(3, delivery.GetProperty("attempt_count").GetInt32());
        Assert.Equal(JsonValueKind.Null, delivery.GetProperty("next_attempt_at").ValueKind);
        Assert.All(delivery.GetProperty("attempts").EnumerateArray(), a =>
        {
            Assert.Equal(JsonValueKind.Null, a.GetProperty("status_code").ValueKind);
            Assert.Contains("Connection refused", a.GetProperty("error").GetString());
        });
    }

    [Fact]
    public async Task Receiver_that_does_not_answer_holds_up_neither_the_job_nor_the_worker()
    {
        var release = new TaskCompletionSource();
        await using var receiver = await WebhookReceiver.StartAsync(answerAfter: release.Task);
        try
        {
            var job = await RunJobAsync(receiver.Url);
            await receiver.WaitForAsync(1, DeliveryDeadline);

            var next = await RunJobAsync(null);

            Assert.Equal("succeeded", job.GetProperty("status").GetString());
            Assert.Equal("succeeded", next.GetProperty("status").GetString());
            Assert.Equal(0, receiver.Answered);
        }
        finally
        {
            release.SetResult();
        }
    }

    [Fact]
    public async Task Redeliver_sends_the_message_again_with_the_same_webhook_id()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var job = await RunJobAsync(receiver.Url);
        var first = Assert.Single(await receiver.WaitForAsync(1, DeliveryDeadline));
        var delivery = Assert.Single((await WaitForDeliveriesAsync(job, d => d.All(x => x.GetProperty("status").GetString() == "delivered"))).EnumerateArray());
        var deliveryId = delivery.GetProperty("id").GetGuid();

        var response = await Client.PostAsync($"/v1/jobs/{job.GetProperty("id").GetGuid()}/webhook-deliveries/{deliveryId}/redeliver", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await ReadJsonAsync(response);
        Assert.Equal("pending", accepted.GetProperty("status").GetString());
        Assert.Equal(deliveryId, accepted.GetProperty("id").GetGuid());
        var webhooks = await receiver.WaitForAsync(2, DeliveryDeadline);
        Assert.Equal(first.Id, webhooks[1].Id);
        Assert.Equal(first.Body, webhooks[1].Body);
        Assert.True(webhooks[1].IsSignedWith(await GetSecretAsync()));
        var after = Assert.Single((await WaitForDeliveriesAsync(job, d => d.All(x => x.GetProperty("attempt_count").GetInt32() == 2
            && x.GetProperty("status").GetString() == "delivered"))).EnumerateArray());
        Assert.Equal(2, after.GetProperty("attempts").GetArrayLength());
    }

    [Fact]
    public async Task Dispatchers_racing_over_one_outbox_send_each_message_exactly_once()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var jobId = (await RunJobAsync(null)).GetProperty("id").GetGuid();
        // Two more dispatchers, as other processes would run, claim in a tight loop alongside the service's own.
        var rivals = Enumerable.Range(0, 2).Select(_ => ActivatorUtilities.CreateInstance<WebhookOutboxDispatcher>(Factory.Services)).ToList();
        using var stop = new CancellationTokenSource();
        var racing = rivals.Select(rival => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
                await rival.DispatchDueAsync(CancellationToken.None);
        })).ToList();

        const int Messages = 30;
        await Factory.WithDbAsync(async db =>
        {
            var job = await db.Jobs.SingleAsync(j => j.Id == jobId);
            job.Webhook = receiver.Url;
            job.WebhookEvents = WebhookEventTypes.Progress;
            for (var i = 0; i < Messages; i++)
                JobEventLog.Append(db, job, JobEventType.Progress, DateTimeOffset.UtcNow);
            return await db.SaveChangesAsync();
        });
        var webhooks = await receiver.WaitForAsync(Messages, DeliveryDeadline);
        await Task.Delay(1500); // time for a duplicate to arrive
        await stop.CancelAsync();
        await Task.WhenAll(racing);

        Assert.Equal(Messages, receiver.Received.Count);
        Assert.Equal(Messages, webhooks.Select(w => w.Id).Distinct().Count());
        var attempts = await Factory.WithDbAsync(db => db.WebhookAttempts.AsNoTracking()
            .Where(a => db.WebhookDeliveries.Any(d => d.Id == a.DeliveryId && d.JobId == jobId)).CountAsync());
        Assert.Equal(Messages, attempts);
    }

    [Fact]
    public async Task Deliveries_of_an_unknown_job_and_redelivery_of_an_unknown_delivery_are_404_problems()
    {
        var unknownJob = await Client.GetAsync($"/v1/jobs/{Guid.NewGuid()}/webhook-deliveries");
        var job = await ReadJsonAsync(await PostGenerationAsync(ValidRequest()));
        var unknownDelivery = await Client.PostAsync($"/v1/jobs/{job.GetProperty("id").GetGuid()}/webhook-deliveries/{Guid.NewGuid()}/redeliver", null);
        var empty = await Client.GetFromJsonAsync<JsonElement>($"/v1/jobs/{job.GetProperty("id").GetGuid()}/webhook-deliveries");

        Assert.Equal(HttpStatusCode.NotFound, unknownJob.StatusCode);
        Assert.Equal("application/problem+json", unknownJob.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, unknownDelivery.StatusCode);
        Assert.Equal("application/problem+json", unknownDelivery.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, empty.GetProperty("data").GetArrayLength());
        await JobPolling.UntilFinishedAsync(Client, $"/v1/jobs/{job.GetProperty("id").GetGuid()}", JobDeadline);
    }

    /// <summary>A URL on 127.0.0.1 where nothing listens: the port of a receiver that was started and stopped.</summary>
    private static async Task<string> ClosedPortUrlAsync()
    {
        string url;
        await using (var receiver = await WebhookReceiver.StartAsync())
            url = receiver.Url;
        return url;
    }
}

/// <summary>The service with its in-process worker and webhook delivery, private targets allowed, three attempts 0.3 s apart.</summary>
public static class WebhookTestSettings
{
    public static void Apply(IWebHostBuilder builder, bool allowPrivateTargets, string pollInterval = "00:00:01")
    {
        builder.UseSetting("Easel:Webhooks:AllowPrivateTargets", allowPrivateTargets ? "true" : "false");
        builder.UseSetting("Easel:Webhooks:RetryDelays:0", "00:00:00.300");
        builder.UseSetting("Easel:Webhooks:RetryDelays:1", "00:00:00.300");
        builder.UseSetting("Easel:Webhooks:Timeout", "00:00:05");
        builder.UseSetting("Easel:Webhooks:PollInterval", pollInterval);
    }
}

public sealed class SqliteWebhookFactory : EaselApiFactory
{
    protected override bool InProcessWorkers => true;

    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        WebhookTestSettings.Apply(builder, allowPrivateTargets: true);
    }
}

public sealed class PostgresWebhookFactory : EaselApiFactory
{
    protected override bool InProcessWorkers => true;

    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabase.CreatePostgresAsync();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        WebhookTestSettings.Apply(builder, allowPrivateTargets: true);
    }
}

public sealed class WebhookDeliveryTestsOnSqlite(SqliteWebhookFactory factory) : WebhookDeliveryTests<SqliteWebhookFactory>(factory);

public sealed class WebhookDeliveryTestsOnPostgres(PostgresWebhookFactory factory) : WebhookDeliveryTests<PostgresWebhookFactory>(factory);
