using System.Net.Http;
using Easel.Core.Options;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Webhooks;

public static class WebhookDeliveryServiceCollectionExtensions
{
    /// <summary>The Hangfire queues this process serves for webhook delivery (its own server, see below).</summary>
    public static readonly IReadOnlyList<string> Queues = [WebhookSender.Queue];

    /// <summary>
    /// Webhook delivery in a process that runs workers (the API in-process mode, the worker executable): the outbox
    /// dispatcher, the sender job, the SSRF-checking HTTP client, and a Hangfire server of its own for the "webhooks"
    /// queue with <c>Easel:Webhooks:DeliveryWorkers</c> workers, so that slow or dead receivers never hold a GPU worker.
    /// Needs <c>AddEaselCore</c>, <c>AddEaselWorkers</c> and a Hangfire storage.
    /// </summary>
    public static IServiceCollection AddEaselWebhookDelivery(this IServiceCollection services)
    {
        services.AddSingleton(sp => new WebhookTargetConnector(WebhookTargetConnector.ResolveWithDns,
            sp.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowPrivateTargets));
        services.AddHttpClient(WebhookSender.HttpClientName, client =>
            {
                // The sender enforces Easel:Webhooks:Timeout per attempt.
                client.Timeout = Timeout.InfiniteTimeSpan;
                client.DefaultRequestHeaders.UserAgent.ParseAdd("Easel");
            })
            .ConfigurePrimaryHttpMessageHandler(sp => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                // A proxy would make the connect callback see the proxy, not the target.
                UseProxy = false,
                UseCookies = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(1),
                ConnectCallback = sp.GetRequiredService<WebhookTargetConnector>().ConnectAsync,
            });
        services.AddScoped<WebhookSender>();
        services.AddHostedService<WebhookOutboxDispatcher>();
        services.AddHangfireServer((sp, server) =>
        {
            Hosting.HangfireServiceCollectionExtensions.ApplyServerLiveness(sp, server);
            server.WorkerCount = sp.GetRequiredService<IOptions<WebhookOptions>>().Value.DeliveryWorkers;
            server.Queues = [.. Queues];
            server.ServerName = $"easel-webhooks-{Environment.MachineName}-{Environment.ProcessId}";
        });
        return services;
    }
}
