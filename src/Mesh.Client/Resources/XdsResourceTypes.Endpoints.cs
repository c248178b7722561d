using System.Collections.Immutable;
using System.Net;
using Envoy.Config.Endpoint.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.Client.Xds;

namespace Mesh.Client.Resources;

/// <summary>ClusterLoadAssignment validation (gRFC A27, A76).</summary>
internal static partial class XdsResourceTypes
{
    /// <summary>The metadata filter that carries an endpoint's hash key (gRFC A76).</summary>
    public const string LbMetadataFilter = "envoy.lb";

    internal static XdsDecodeResult DecodeEndpoints(ClusterLoadAssignment assignment)
    {
        var name = assignment.ClusterName;
        var localities = ImmutableArray.CreateBuilder<LocalityResource>();
        var priorities = new SortedSet<uint>();
        var seenLocalities = new HashSet<(string, string, string, uint)>();
        var seenAddresses = new HashSet<(string, int)>();
        for (var l = 0; l < assignment.Endpoints.Count; l++)
        {
            var locality = assignment.Endpoints[l];
            var field = $"endpoints[{l}]";
            if (locality.Locality is not { } key)
            {
                return Fail(name, field + ".locality", "is required");
            }

            var weight = locality.LoadBalancingWeight ?? 0;
            if (weight == 0)
            {
                continue; // A27: a locality without weight takes no traffic; the others still do.
            }

            if (!seenLocalities.Add((key.Region, key.Zone, key.SubZone, locality.Priority)))
            {
                return Fail(name, field + ".locality", $"'{key.Region}/{key.Zone}/{key.SubZone}' appears twice at priority {locality.Priority}");
            }

            var endpoints = ImmutableArray.CreateBuilder<EndpointResource>();
            for (var e = 0; e < locality.LbEndpoints.Count; e++)
            {
                var lb = locality.LbEndpoints[e];
                var at = $"{field}.lb_endpoints[{e}]";
                var endpoint = DecodeEndpoint(lb, at, allowHostName: false, out var endpointField, out var error);
                if (endpoint is null)
                {
                    return Fail(name, endpointField!, error!);
                }

                if (!seenAddresses.Add((endpoint.Host, endpoint.Port)))
                {
                    return Fail(name, at + ".endpoint.address", $"{endpoint.Host}:{endpoint.Port} appears more than once");
                }

                // Only usable endpoints are kept; the others were still validated above.
                if (lb.HealthStatus is Envoy.Config.Core.V3.HealthStatus.Unknown or Envoy.Config.Core.V3.HealthStatus.Healthy)
                {
                    endpoints.Add(endpoint);
                }
            }

            priorities.Add(locality.Priority);
            localities.Add(new LocalityResource(key.Region, key.Zone, key.SubZone, weight, locality.Priority, endpoints.ToImmutable()));
        }

        // A27: priorities must be contiguous from 0.
        uint expected = 0;
        foreach (var priority in priorities)
        {
            if (priority != expected++)
            {
                return Fail(name, "endpoints", $"priorities must be contiguous from 0; {expected - 1} is missing");
            }
        }

        return XdsDecodeResult.Success(name, new EndpointsResource(name, localities.ToImmutable()));
    }

    private static EndpointResource? DecodeEndpoint(LbEndpoint lb, string at, bool allowHostName, out string? field, out string? error)
    {
        field = at + ".endpoint.address.socket_address";
        error = null;
        if (lb.Endpoint?.Address?.SocketAddress is not { } socket || socket.PortSpecifierCase != Envoy.Config.Core.V3.SocketAddress.PortSpecifierOneofCase.PortValue)
        {
            error = "a socket address with port_value is required";
            return null;
        }

        if (allowHostName)
        {
            // A DNS cluster's endpoint (gRFC A37): a name to resolve, or an IP literal that resolves to itself.
            if (Uri.CheckHostName(socket.Address) is UriHostNameType.Unknown or UriHostNameType.Basic)
            {
                field += ".address";
                error = $"'{socket.Address}' is neither a DNS name nor an IP address";
                return null;
            }
        }
        else if (!IsIpLiteral(socket.Address))
        {
            field += ".address";
            error = $"'{socket.Address}' is not an IP address";
            return null;
        }

        if (socket.PortValue is 0 or > 65535)
        {
            field += ".port_value";
            error = $"{socket.PortValue} is not a port (1-65535)";
            return null;
        }

        uint weight = 1;
        if (lb.LoadBalancingWeight is { } explicitWeight)
        {
            if (explicitWeight == 0)
            {
                field = at + ".load_balancing_weight";
                error = "must be at least 1 when set";
                return null;
            }

            weight = explicitWeight;
        }

        string? hashKey = null;
        if (lb.Metadata?.FilterMetadata.TryGetValue(LbMetadataFilter, out var lbMetadata) == true
            && lbMetadata.Fields.TryGetValue("hash_key", out var value)
            && value.KindCase == Value.KindOneofCase.StringValue
            && value.StringValue.Length > 0)
        {
            hashKey = value.StringValue;
        }

        return new EndpointResource(socket.Address, (int)socket.PortValue, weight) { HashKey = hashKey };
    }

    /// <summary>A dotted-quad IPv4 or an IPv6 literal without zone: what gRPC's EDS takes (no name to resolve).</summary>
    private static bool IsIpLiteral(string address)
    {
        if (!IPAddress.TryParse(address, out var ip) || address.Contains('%', StringComparison.Ordinal))
        {
            return false;
        }

        return ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && address.Count(c => c == '.') == 3);
    }
}
