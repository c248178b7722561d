using Mesh.Client.Resources;
using Yarp.ReverseProxy.Configuration;

namespace Mesh.Gateway.Configuration;

/// <summary>The YARP route of one virtual host of a gateway port.</summary>
internal static class GatewayRouteBuilder
{
    /// <summary>
    /// A route for <paramref name="vhost"/> on <paramref name="port"/>: every path, the virtual host's domains as host
    /// patterns (ports dropped: a host pattern without a port matches any, and Envoy's domains list each host with and
    /// without it; <c>*</c> means no host condition), and the server port header the gateway stamps on each request.
    /// </summary>
    public static RouteConfig Route(string id, GatewayPort port, VirtualHostResource vhost)
    {
        List<string>? hosts = [];
        foreach (var domain in vhost.Domains)
        {
            if (domain == "*")
            {
                hosts = null;
                break;
            }

            var host = StripPort(domain);
            if (!hosts.Contains(host, StringComparer.OrdinalIgnoreCase))
            {
                hosts.Add(host);
            }
        }

        return new RouteConfig
        {
            RouteId = id,
            ClusterId = id,
            Match = new RouteMatch
            {
                Path = "/{**mesh-path}",
                Hosts = hosts,
                Headers = [new RouteHeader { Name = GatewayDefaults.ServerPortHeader, Values = [port.PortText], Mode = HeaderMatchMode.ExactHeader }],
            },
            Metadata = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [GatewayDefaults.ListenerMetadata] = port.ListenerName,
                [GatewayDefaults.VirtualHostMetadata] = vhost.Name,
                [GatewayDefaults.RequireTlsMetadata] = vhost.RequireTls ? "true" : "false",
            },
        };
    }

    private static string StripPort(string domain)
    {
        // [v6]:port, host:port; a bare IPv6 literal has more than one colon and no brackets.
        if (domain.StartsWith('['))
        {
            var close = domain.IndexOf(']', StringComparison.Ordinal);
            return close > 0 ? domain[..(close + 1)] : domain;
        }

        var colon = domain.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && domain.IndexOf(':', colon + 1) < 0 ? domain[..colon] : domain;
    }
}
