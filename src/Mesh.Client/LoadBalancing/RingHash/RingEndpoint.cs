using System.Net.Sockets;
using Mesh.Client.Resources;

namespace Mesh.Client.LoadBalancing.RingHash;

/// <summary>One endpoint to place on a hash ring: what it stands for, its hash key and its weight.</summary>
/// <typeparam name="T">What a pick returns (an endpoint, a subchannel).</typeparam>
/// <param name="Item">What a pick returns.</param>
/// <param name="HashKey">The endpoint hash key: see <see cref="KeyOf"/>.</param>
/// <param name="Weight">Its weight: for an xDS cluster, the locality weight times the endpoint weight (gRFC A42).</param>
internal readonly record struct RingEndpoint<T>(T Item, string HashKey, ulong Weight)
{
    /// <summary>
    /// The hash key of an endpoint: its A76 <c>hash_key</c> when it has one, else its address as gRPC writes it
    /// (<c>10.0.0.1:8080</c>, <c>[::1]:8080</c>).
    /// </summary>
    public static string KeyOf(EndpointResource endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.HashKey is { } key)
        {
            return key;
        }

        var ipv6 = System.Net.IPAddress.TryParse(endpoint.Host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6;
        return ipv6 ? $"[{endpoint.Host}]:{endpoint.Port}" : $"{endpoint.Host}:{endpoint.Port}";
    }
}
