using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using Easel.Core.Jobs;

namespace Easel.Workers.Webhooks;

/// <summary>
/// The connect step of the webhook HTTP client. It resolves the host itself and refuses the connection when any address
/// is loopback, private, link-local or otherwise forbidden (<see cref="WebhookTargetPolicy"/>), so a public-looking name
/// that points inside the network, or is re-bound there after the job was accepted, is refused on the address that
/// would actually be connected to.
/// </summary>
public sealed class WebhookTargetConnector(Func<string, CancellationToken, Task<IPAddress[]>> resolve, bool allowPrivateTargets)
{
    public static Task<IPAddress[]> ResolveWithDns(string host, CancellationToken cancellationToken) =>
        Dns.GetHostAddressesAsync(host, cancellationToken);

    /// <summary>For <see cref="SocketsHttpHandler.ConnectCallback"/>.</summary>
    public ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, cancellationToken);

    public async ValueTask<Stream> ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        var literal = host.Trim('[', ']');
        var addresses = IPAddress.TryParse(literal, out var address) ? [address] : await resolve(host, cancellationToken);
        if (addresses.Length == 0)
            throw new SocketException((int)SocketError.HostNotFound);
        if (!allowPrivateTargets && addresses.FirstOrDefault(WebhookTargetPolicy.IsForbidden) is { } forbidden)
            throw new WebhookTargetRefusedException(forbidden);

        Exception? last = null;
        foreach (var candidate in addresses)
        {
            var socket = new Socket(candidate.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(candidate, port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last!;
    }
}

/// <summary>The target resolved to an address webhooks may not reach; the delivery fails without retries.</summary>
public sealed class WebhookTargetRefusedException(IPAddress address)
    : IOException($"target address {address} is {Describe(address)}; refused")
{
    public IPAddress Address { get; } = address;

    private static string Describe(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address))
            return "loopback";
        var bytes = address.GetAddressBytes();
        if (address.IsIPv6LinkLocal || (address.AddressFamily == AddressFamily.InterNetwork && bytes[0] == 169 && bytes[1] == 254))
            return "link-local";
        if (address.IsIPv6Multicast || (address.AddressFamily == AddressFamily.InterNetwork && bytes[0] >= 224))
            return "multicast or reserved";
        return "private";
    }
}
