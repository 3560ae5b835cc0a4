using System.Net;
using System.Net.Sockets;
using Easel.Core.Webhooks;
using Easel.Workers.Webhooks;

namespace Easel.Api.Tests;

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
