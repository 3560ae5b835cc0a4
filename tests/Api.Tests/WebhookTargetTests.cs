using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Easel.Core.Jobs;
using Easel.Core.Webhooks;
using Easel.Testing;
using Easel.Workers.Webhooks;
using Microsoft.AspNetCore.Hosting;

namespace Easel.Api.Tests;

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
            var deliveries = await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<JsonElement>(Client, $"/v1/jobs/{jobId}/webhook-deliveries");
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

/// <summary>The connect step and the signature, on their own: name resolution is given as a fixed host table.</summary>
public sealed class WebhookConnectorAndSignatureTests
{
    private static Func<string, CancellationToken, Task<IPAddress[]>> Hosts(Dictionary<string, string[]> table) =>
        (host, _) => Task.FromResult(table[host].Select(IPAddress.Parse).ToArray());

    [Theory]
    [InlineData("10.0.0.5", "target address 10.0.0.5 is private; refused")]
    [InlineData("127.0.0.1", "target address 127.0.0.1 is loopback; refused")]
    [InlineData("169.254.169.254", "target address 169.254.169.254 is link-local; refused")]
    [InlineData("fd00::1", "target address fd00::1 is private; refused")]
    public async Task Name_resolving_to_a_forbidden_address_is_refused_before_any_connection(string address, string message)
    {
        var connector = new WebhookTargetConnector(Hosts(new() { ["hooks.example.com"] = [address] }), allowPrivateTargets: false);

        var refusal = await Assert.ThrowsAsync<WebhookTargetRefusedException>(() => connector.ConnectAsync("hooks.example.com", 80, default).AsTask());

        Assert.Equal(message, refusal.Message);
    }

    [Fact]
    public async Task One_forbidden_address_among_public_ones_refuses_the_name()
    {
        var connector = new WebhookTargetConnector(Hosts(new() { ["rebind.example.com"] = ["93.184.216.34", "192.168.1.10"] }), allowPrivateTargets: false);

        var refusal = await Assert.ThrowsAsync<WebhookTargetRefusedException>(() => connector.ConnectAsync("rebind.example.com", 443, default).AsTask());

        Assert.Equal(IPAddress.Parse("192.168.1.10"), refusal.Address);
    }

    [Fact]
    public async Task Each_connection_resolves_again_so_a_name_rebound_to_a_private_address_is_refused()
    {
        // First a public answer (TEST-NET-1, unreachable here: the connect is attempted and times out), then a private one.
        var answers = new Queue<string>(["192.0.2.1", "10.1.2.3"]);
        var connector = new WebhookTargetConnector((_, _) => Task.FromResult(new[] { IPAddress.Parse(answers.Dequeue()) }), allowPrivateTargets: false);

        using (var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            var first = await Record.ExceptionAsync(() => connector.ConnectAsync("hooks.example.com", 80, timeout.Token).AsTask());
            Assert.True(first is OperationCanceledException or SocketException, $"expected a connect attempt, got {first}");
        }
        var rebound = await Assert.ThrowsAsync<WebhookTargetRefusedException>(() => connector.ConnectAsync("hooks.example.com", 80, default).AsTask());

        Assert.Equal(IPAddress.Parse("10.1.2.3"), rebound.Address);
    }

    [Fact]
    public async Task Private_targets_connect_when_allowed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var connector = new WebhookTargetConnector(Hosts(new() { ["receiver.test"] = ["127.0.0.1"] }), allowPrivateTargets: true);

        await using var stream = await connector.ConnectAsync("receiver.test", port, default);
        using var accepted = await listener.AcceptTcpClientAsync();

        Assert.True(accepted.Connected);
    }

    [Fact]
    public void Signature_matches_the_standard_webhooks_test_vector()
    {
        var signature = WebhookSignature.Sign(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
            "{\"test\": 2432232314}");

        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", signature);
    }

    [Fact]
    public void During_a_rotation_both_secrets_sign_until_the_overlap_ends()
    {
        var now = DateTimeOffset.UtcNow;
        var secret = new WebhookSecret { Secret = WebhookSecrets.NewSecret(), PreviousSecret = WebhookSecrets.NewSecret(), PreviousExpiresAt = now.AddHours(1) };

        Assert.Equal([secret.Secret, secret.PreviousSecret], WebhookSecrets.SigningSecrets(secret, now));
        Assert.Equal([secret.Secret], WebhookSecrets.SigningSecrets(secret, now.AddHours(2)));
        Assert.Equal(2, WebhookSignature.Sign(WebhookSecrets.SigningSecrets(secret, now), "msg_x", 1, "{}").Split(' ').Length);
    }
}
