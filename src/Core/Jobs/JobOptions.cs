using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Easel.Core.Options;

namespace Easel.Core.Jobs;

/// <summary>What every job request (of any kind) may say about the job itself rather than its work.</summary>
/// <param name="Webhook">Absolute http(s) URL that receives the job's events.</param>
/// <param name="WebhookEvents">Which events are posted; default only the completion.</param>
/// <param name="CancelAfter">The deadline after which the job is canceled (queued) or stopped (running).</param>
/// <param name="Priority">Higher runs earlier among queued jobs.</param>
public sealed record JobOptions(string? Webhook, WebhookEventTypes WebhookEvents, DateTimeOffset? CancelAfter, int Priority)
{
    public static readonly JobOptions Default = new(null, WebhookEventTypes.Completed, null, 0);

    /// <summary>Copies the options onto a new job row.</summary>
    public void ApplyTo(Job job)
    {
        job.Webhook = Webhook;
        job.WebhookEvents = Webhook is null ? WebhookEventTypes.None : WebhookEvents;
        job.CancelAfter = CancelAfter;
        job.Priority = Priority;
    }
}

/// <summary>
/// Reads the job-level fields of a request: <c>webhook</c>, <c>webhook_events</c>, <c>cancel_after</c>, <c>priority</c>.
/// Errors are keyed by the snake_case field name. A webhook whose host is a literal loopback, private, link-local or
/// metadata address (or "localhost") is refused here unless private targets are allowed; names that resolve there are
/// refused again at delivery time, on the address actually connected to.
/// </summary>
public static partial class JobOptionsReader
{
    public const int MinPriority = -100;
    public const int MaxPriority = 100;
    public static readonly TimeSpan MaxCancelAfter = TimeSpan.FromDays(7);

    public static JobOptions Read(string? webhook, IReadOnlyList<string>? webhookEvents, string? cancelAfter, int? priority,
        DateTimeOffset now, bool allowPrivateWebhookTargets, Action<string, string> addError)
    {
        string? url = null;
        if (!string.IsNullOrWhiteSpace(webhook))
        {
            if (webhook.Length > 2048)
                addError("webhook", "webhook must be at most 2048 characters long.");
            else if (!Uri.TryCreate(webhook.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                addError("webhook", "webhook must be an absolute http or https URL.");
            else if (!string.IsNullOrEmpty(uri.UserInfo))
                addError("webhook", "webhook must not carry credentials in the URL.");
            else if (!allowPrivateWebhookTargets && WebhookTargetPolicy.IsForbiddenHost(uri))
                addError("webhook", $"webhook host '{uri.Host}' is a loopback, private, link-local or metadata address; such targets are refused unless {WebhookOptions.Section}:{nameof(WebhookOptions.AllowPrivateTargets)} is true.");
            else
                url = uri.AbsoluteUri;
        }

        var events = WebhookEventTypes.Completed;
        if (webhookEvents is not null)
        {
            events = WebhookEventTypes.None;
            foreach (var name in webhookEvents)
            {
                if (Enum.TryParse<WebhookEventTypes>(name, ignoreCase: true, out var parsed) && parsed is WebhookEventTypes.Started
                        or WebhookEventTypes.Progress or WebhookEventTypes.Completed && !char.IsDigit(name.FirstOrDefault()))
                    events |= parsed;
                else
                    addError("webhook_events", $"Unknown webhook event '{name}'; use started, progress and completed.");
            }
            if (webhookEvents.Count == 0)
                addError("webhook_events", "webhook_events must name at least one of started, progress, completed (or be omitted).");
            if (url is null && string.IsNullOrWhiteSpace(webhook))
                addError("webhook_events", "webhook_events needs a webhook URL.");
        }

        DateTimeOffset? deadline = null;
        if (!string.IsNullOrWhiteSpace(cancelAfter))
        {
            if (TryParseDeadline(cancelAfter.Trim(), now, out var parsed))
            {
                if (parsed <= now)
                    addError("cancel_after", "cancel_after is in the past.");
                else if (parsed - now > MaxCancelAfter)
                    addError("cancel_after", $"cancel_after must be at most {MaxCancelAfter.TotalDays:0} days away.");
                else
                    deadline = parsed;
            }
            else
            {
                addError("cancel_after", "cancel_after must be a duration (\"90s\", \"5m\", \"1h30m\", or seconds as a number) or an RFC 3339 time.");
            }
        }

        if (priority is < MinPriority or > MaxPriority)
            addError("priority", $"priority must be between {MinPriority} and {MaxPriority}.");

        return new JobOptions(url, events, deadline, priority ?? 0);
    }

    /// <summary>A duration from now (Go-style "1h30m", "90s", "500ms", or plain seconds) or an absolute RFC 3339 time.</summary>
    public static bool TryParseDeadline(string text, DateTimeOffset now, out DateTimeOffset deadline)
    {
        deadline = default;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            if (!double.IsFinite(seconds) || seconds <= 0 || seconds > MaxCancelAfter.TotalSeconds * 2)
                return false;
            deadline = now + TimeSpan.FromSeconds(seconds);
            return true;
        }
        var match = DurationPattern().Match(text);
        if (match.Success && match.Length == text.Length && text.Length > 0)
        {
            var total = TimeSpan.Zero;
            foreach (Capture part in match.Groups["part"].Captures)
            {
                var unitMatch = UnitPattern().Match(part.Value);
                var value = double.Parse(unitMatch.Groups["value"].Value, CultureInfo.InvariantCulture);
                total += unitMatch.Groups["unit"].Value switch
                {
                    "ms" => TimeSpan.FromMilliseconds(value),
                    "s" => TimeSpan.FromSeconds(value),
                    "m" => TimeSpan.FromMinutes(value),
                    _ => TimeSpan.FromHours(value),
                };
                if (total > MaxCancelAfter * 2)
                    return false;
            }
            deadline = now + total;
            return true;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out deadline)
               && text.Contains('T', StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex(@"^(?<part>\d+(\.\d+)?(ms|h|m|s))+$")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^(?<value>\d+(\.\d+)?)(?<unit>ms|h|m|s)$")]
    private static partial Regex UnitPattern();
}

/// <summary>
/// Which webhook targets are refused (SSRF): loopback, RFC 1918 / unique-local private, link-local (incl. the cloud
/// metadata address 169.254.169.254), carrier-grade NAT, unspecified and multicast addresses.
/// </summary>
public static class WebhookTargetPolicy
{
    /// <summary>True when the URL's host is a literal forbidden address or a name that always means this machine.</summary>
    public static bool IsForbiddenHost(Uri uri)
    {
        var host = uri.IdnHost.TrimEnd('.');
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || host.Equals("metadata.google.internal", StringComparison.OrdinalIgnoreCase))
            return true;
        return IPAddress.TryParse(uri.HostNameType == UriHostNameType.IPv6 ? host.Trim('[', ']') : host, out var address) && IsForbidden(address);
    }

    public static bool IsForbidden(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)
            || address.Equals(IPAddress.IPv6None) || address.Equals(IPAddress.Broadcast))
            return true;
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                   || (bytes[0] & 0xfe) == 0xfc // fc00::/7 unique local
                   || address.IsIPv6Teredo;
        }
        var b = address.GetAddressBytes();
        return b[0] == 10 // 10/8
               || b[0] == 0 // 0/8 "this network"
               || (b[0] == 172 && (b[1] & 0xf0) == 16) // 172.16/12
               || (b[0] == 192 && b[1] == 168) // 192.168/16
               || (b[0] == 169 && b[1] == 254) // 169.254/16 link-local, cloud metadata
               || (b[0] == 100 && (b[1] & 0xc0) == 64) // 100.64/10 carrier-grade NAT
               || b[0] >= 224; // multicast and reserved
    }
}
