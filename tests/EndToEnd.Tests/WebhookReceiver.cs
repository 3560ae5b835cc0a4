using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Easel.EndToEnd.Tests;

/// <summary>What a webhook receiver saw: the Standard Webhooks headers, the raw body, and what it answered.</summary>
public sealed record ReceivedWebhook(
    string Id, string Timestamp, string Signature, string? ContentType, string? UserAgent, string Body, int AnsweredStatus, DateTimeOffset ReceivedAt)
{
    /// <summary>
    /// The receiver's check, written from the Standard Webhooks spec independently of the service: HMAC-SHA256 keyed with
    /// the base64-decoded secret after "whsec_", over "{id}.{timestamp}.{body}"; any one of the space-separated "v1,"
    /// signatures may match.
    /// </summary>
    public bool IsSignedWith(string secret)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{Id}.{Timestamp}.{Body}"));
        return Signature.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(s => s.StartsWith("v1,", StringComparison.Ordinal))
            .Any(s => CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(s[3..]), expected));
    }
}

/// <summary>A real HTTP receiver on 127.0.0.1 (Kestrel, ephemeral port) that records every POST and answers as told.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private readonly Func<int, int> _statusOf;
    private readonly Task _answerAfter;
    private int _count;
    private int _answered;

    private WebhookReceiver(Func<int, int> statusOf, Task answerAfter)
    {
        _statusOf = statusOf;
        _answerAfter = answerAfter;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "webhook-receiver" });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapPost("/hook", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var status = _statusOf(Interlocked.Increment(ref _count));
            _received.Enqueue(new ReceivedWebhook(
                request.Headers["webhook-id"].ToString(), request.Headers["webhook-timestamp"].ToString(),
                request.Headers["webhook-signature"].ToString(), request.ContentType, request.Headers.UserAgent.ToString(), body, status,
                DateTimeOffset.UtcNow));
            await _answerAfter;
            Interlocked.Increment(ref _answered);
            return Results.StatusCode(status);
        });
    }

    /// <summary>
    /// Starts a receiver; <paramref name="statusOf"/> maps the 1-based number of a request to the status it gets (200 by
    /// default); with <paramref name="answerAfter"/>, requests are recorded at once but answered only when it completes.
    /// </summary>
    public static async Task<WebhookReceiver> StartAsync(Func<int, int>? statusOf = null, Task? answerAfter = null)
    {
        var receiver = new WebhookReceiver(statusOf ?? (_ => 200), answerAfter ?? Task.CompletedTask);
        await receiver._app.StartAsync();
        var address = receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Port = new Uri(address).Port;
        return receiver;
    }

    public int Port { get; private set; }

    public string Url => $"http://127.0.0.1:{Port}/hook";

    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    /// <summary>How many requests have been answered (all but those held by answerAfter).</summary>
    public int Answered => Volatile.Read(ref _answered);

    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (_received.Count < count)
        {
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException($"The receiver got {_received.Count} of {count} webhook(s) within {timeout}.");
            await Task.Delay(20);
        }
        return Received;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
