using System.Collections.Immutable;
using Mesh.ControlPlane.Configuration;

namespace Mesh.ControlPlane.Model;

public sealed partial class MeshModelBuilder
{
    private static readonly string[] GatewayProtocols = ["HTTP", "HTTPS", "HTTP2", "GRPC"];

    /// <summary>
    /// The Istio Gateways: selector, servers (port, protocol, hosts with namespace prefixes, TLS). What Mesh cannot
    /// serve (TCP/TLS protocols, PASSTHROUGH and ISTIO_MUTUAL modes, SAN or hash pinning, cipher and version limits)
    /// is an error naming the field, never served as something wider; two servers that would share a listener
    /// differently on one gateway workload are a conflicting listener.
    /// </summary>
    private ImmutableArray<IngressGateway> BuildGateways(List<Parsed<GatewaySpec>> parsed)
    {
        var built = new List<(ConfigResource Resource, IngressGateway Gateway)>();
        foreach (var (resource, spec) in parsed.OrderBy(static p => p.Resource.Namespace, StringComparer.Ordinal).ThenBy(static p => p.Resource.Name, StringComparer.Ordinal))
        {
            var errorsBefore = _errors.Count;
            if (spec.Selector is not { Count: > 0 } selector)
            {
                Error(resource, "spec.selector", "is required: Mesh serves a Gateway only on the workloads its selector names (for example istio: ingressgateway)");
                continue;
            }

            if (spec.Servers is not { Count: > 0 } servers)
            {
                Error(resource, "spec.servers", "at least one server is required");
                continue;
            }

            var built1 = ImmutableArray.CreateBuilder<GatewayServer>(servers.Count);
            for (var i = 0; i < servers.Count; i++)
            {
                if (BuildGatewayServer(resource, $"spec.servers[{i}]", servers[i]) is { } server)
                {
                    built1.Add(server);
                }
            }

            if (_errors.Count == errorsBefore)
            {
                built.Add((resource, new IngressGateway(resource.Namespace, resource.Name, selector.ToImmutableDictionary(StringComparer.Ordinal), built1.ToImmutable(), $"{resource.DisplayName} ({resource.Origin})")));
            }
        }

        CheckGatewayConflicts(built);
        return [.. built.Select(static b => b.Gateway)];
    }

    private GatewayServer? BuildGatewayServer(ConfigResource resource, string field, GatewayServerSpec spec)
    {
        var errorsBefore = _errors.Count;
        if (spec.Port is not { } port)
        {
            Error(resource, field + ".port", "is required");
            return null;
        }

        if (port.Number is not { } number || number is 0 or > 65535)
        {
            Error(resource, field + ".port.number", "is required, from 1 to 65535" + SchemaError);
        }

        var protocol = port.Protocol?.ToUpperInvariant();
        if (protocol is null)
        {
            Error(resource, field + ".port.protocol", "is required (HTTP, HTTPS, HTTP2 or GRPC)" + SchemaError);
        }
        else if (Array.IndexOf(GatewayProtocols, protocol) < 0)
        {
            Error(resource, field + ".port.protocol", $"'{port.Protocol}' is not served by Mesh gateways: they serve HTTP, HTTPS, HTTP2 and GRPC (TCP and TLS passthrough are not supported)");
        }

        if (port.TargetPort is not null)
        {
            Error(resource, field + ".port.targetPort", "is not supported (it is deprecated in Istio too): the gateway listens on port.number");
        }

        if (spec.Bind is not null)
        {
            Error(resource, field + ".bind", "is not supported: a Mesh gateway listens on every address of its workload");
        }

        if (spec.DefaultEndpoint is not null)
        {
            Error(resource, field + ".defaultEndpoint", "is not supported: it applies to sidecar ingress, not gateways");
        }

        var hosts = ImmutableArray.CreateBuilder<GatewayHost>();
        if (spec.Hosts is not { Count: > 0 } written)
        {
            Error(resource, field + ".hosts", "at least one host is required (\"*\" for every host)" + SchemaError);
        }
        else
        {
            for (var i = 0; i < written.Count; i++)
            {
                if (BuildGatewayHost(resource, $"{field}.hosts[{i}]", written[i]) is { } host)
                {
                    hosts.Add(host);
                }
            }
        }

        var tls = BuildServerTls(resource, field + ".tls", spec.Tls, protocol == "HTTPS");
        if (_errors.Count != errorsBefore)
        {
            return null;
        }

        return new GatewayServer((int)port.Number!.Value, port.Name ?? string.Empty, protocol!, hosts.ToImmutable(), tls);
    }

    private GatewayHost? BuildGatewayHost(ConfigResource resource, string field, string written)
    {
        var slash = written.IndexOf('/', StringComparison.Ordinal);
        var ns = slash < 0 ? "*" : written[..slash];
        var host = slash < 0 ? written : written[(slash + 1)..];
        if (ns == ".")
        {
            ns = resource.Namespace;
        }
        else if (ns != "*" && IstioNames.CheckNamespace(ns) is { } badNamespace)
        {
            Error(resource, field, $"'{written}': the namespace part is not valid: {badNamespace}" + SchemaError);
            return null;
        }

        if (IstioNames.CheckHost(host, allowWildcard: true) is { } badHost)
        {
            Error(resource, field, $"'{written}': {badHost}" + SchemaError);
            return null;
        }

        return new GatewayHost(ns, host);
    }

    private GatewayServerTls? BuildServerTls(ConfigResource resource, string field, ServerTlsSpec? spec, bool https)
    {
        if (spec is null)
        {
            if (https)
            {
                Error(resource, field, "is required on an HTTPS server (mode SIMPLE or MUTUAL, with credentialName or serverCertificate and privateKey)" + SchemaError);
            }

            return null;
        }

        RejectUnsupported(resource, field + ".caCrl", spec.CaCrl is not null, "certificate revocation lists are not checked by Mesh gateways");
        RejectUnsupported(resource, field + ".credentialNames", spec.CredentialNames is not null, "one certificate per server is served; use credentialName");
        RejectUnsupported(resource, field + ".tlsCertificates", spec.TlsCertificates is not null, "one certificate per server is served; use serverCertificate and privateKey");
        RejectUnsupported(resource, field + ".subjectAltNames", spec.SubjectAltNames is not null, "client certificates are checked against caCertificates only; SAN pinning is not enforced, so it is refused rather than ignored");
        RejectUnsupported(resource, field + ".verifyCertificateSpki", spec.VerifyCertificateSpki is not null, "certificate pinning is not enforced, so it is refused rather than ignored");
        RejectUnsupported(resource, field + ".verifyCertificateHash", spec.VerifyCertificateHash is not null, "certificate pinning is not enforced, so it is refused rather than ignored");
        RejectUnsupported(resource, field + ".minProtocolVersion", spec.MinProtocolVersion is not null, "the gateway negotiates TLS 1.2 or 1.3 as the platform allows");
        RejectUnsupported(resource, field + ".maxProtocolVersion", spec.MaxProtocolVersion is not null, "the gateway negotiates TLS 1.2 or 1.3 as the platform allows");
        RejectUnsupported(resource, field + ".cipherSuites", spec.CipherSuites is not null, "cipher suites are the platform's defaults");

        if (!https)
        {
            if (spec.Mode is not null || spec.CredentialName is not null || spec.ServerCertificate is not null || spec.PrivateKey is not null || spec.CaCertificates is not null)
            {
                Error(resource, field, "a plaintext server (HTTP, HTTP2, GRPC) may set only httpsRedirect; use protocol HTTPS to terminate TLS" + SchemaError);
                return null;
            }

            return spec.HttpsRedirect == true ? new GatewayServerTls { HttpsRedirect = true } : null;
        }

        if (spec.HttpsRedirect == true)
        {
            Warn(resource, field + ".httpsRedirect", "has no effect on an HTTPS server");
        }

        GatewayTlsMode mode;
        switch (spec.Mode)
        {
            case "SIMPLE":
                mode = GatewayTlsMode.Simple;
                break;
            case "MUTUAL":
                mode = GatewayTlsMode.Mutual;
                break;
            case null:
                Error(resource, field + ".mode", "is required on an HTTPS server: SIMPLE or MUTUAL" + SchemaError);
                return null;
            case "PASSTHROUGH" or "AUTO_PASSTHROUGH" or "ISTIO_MUTUAL" or "OPTIONAL_MUTUAL":
                Error(resource, field + ".mode", $"'{spec.Mode}' is not supported by Mesh gateways: they terminate TLS with SIMPLE or MUTUAL");
                return null;
            default:
                Error(resource, field + ".mode", $"'{spec.Mode}' is not one of SIMPLE, MUTUAL, PASSTHROUGH, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL" + SchemaError);
                return null;
        }

        var files = spec.ServerCertificate is not null || spec.PrivateKey is not null;
        if (spec.CredentialName is { } credential)
        {
            if (files || spec.CaCertificates is not null)
            {
                Error(resource, field + ".credentialName", "set either credentialName or the file paths (serverCertificate, privateKey, caCertificates), not both");
                return null;
            }

            if (IstioNames.CheckResourceName(credential) is { } badName)
            {
                Error(resource, field + ".credentialName", $"'{credential}': {badName}" + SchemaError);
                return null;
            }

            return new GatewayServerTls { Mode = mode, CredentialName = credential };
        }

        if (string.IsNullOrEmpty(spec.ServerCertificate) || string.IsNullOrEmpty(spec.PrivateKey))
        {
            Error(resource, field, $"{spec.Mode} needs credentialName, or serverCertificate and privateKey (paths of PEM files on the gateway)" + SchemaError);
            return null;
        }

        if (mode == GatewayTlsMode.Mutual && string.IsNullOrEmpty(spec.CaCertificates))
        {
            Error(resource, field + ".caCertificates", "is required with MUTUAL and file certificates: client certificates are verified against it" + SchemaError);
            return null;
        }

        if (mode == GatewayTlsMode.Simple && spec.CaCertificates is not null)
        {
            Warn(resource, field + ".caCertificates", "is read only with MUTUAL; a SIMPLE server does not ask for client certificates");
        }

        return new GatewayServerTls
        {
            Mode = mode,
            ServerCertificate = spec.ServerCertificate,
            PrivateKey = spec.PrivateKey,
            CaCertificates = mode == GatewayTlsMode.Mutual ? spec.CaCertificates : null,
        };
    }

    private void RejectUnsupported(ConfigResource resource, string field, bool set, string reason)
    {
        if (set)
        {
            Error(resource, field, "is not supported by Mesh gateways: " + reason);
        }
    }

    /// <summary>
    /// Servers of Gateways that may select the same workload (no selector label contradicts the other's) and share a
    /// port must fit on one listener: plaintext servers merge, but a port cannot be plaintext and TLS at once, and a
    /// port terminates TLS for one server only.
    /// </summary>
    private void CheckGatewayConflicts(List<(ConfigResource Resource, IngressGateway Gateway)> gateways)
    {
        for (var a = 0; a < gateways.Count; a++)
        {
            for (var b = a; b < gateways.Count; b++)
            {
                var (firstResource, first) = gateways[a];
                var (secondResource, second) = gateways[b];
                if (!MayOverlap(first.Selector, second.Selector))
                {
                    continue;
                }

                for (var i = 0; i < first.Servers.Length; i++)
                {
                    for (var j = a == b ? i + 1 : 0; j < second.Servers.Length; j++)
                    {
                        var x = first.Servers[i];
                        var y = second.Servers[j];
                        if (x.Port != y.Port)
                        {
                            continue;
                        }

                        var where = a == b ? $"spec.servers[{i}]" : $"{firstResource.DisplayName} ({firstResource.Origin}) spec.servers[{i}]";
                        if (x.IsHttps != y.IsHttps)
                        {
                            Error(secondResource, $"spec.servers[{j}].port", $"conflicting listener: port {y.Port} is {y.Protocol} here but {x.Protocol} in {where}, on the same gateway workloads; a port is either plaintext or TLS");
                        }
                        else if (x.IsHttps)
                        {
                            Error(secondResource, $"spec.servers[{j}].port", $"conflicting listener: port {y.Port} already terminates TLS for {where}, on the same gateway workloads; Mesh gateways serve one HTTPS server per port");
                        }
                    }
                }
            }
        }
    }

    private static bool MayOverlap(ImmutableDictionary<string, string> first, ImmutableDictionary<string, string> second)
    {
        foreach (var (key, value) in first)
        {
            if (second.TryGetValue(key, out var other) && other != value)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Binds a VirtualService to the Gateways its <c>gateways</c> name (every one must exist), with the rules already
    /// built for it. A destination without a port must be a one-port service: the gateway's port is not the
    /// service's.
    /// </summary>
    private void BindToGateways(
        Parsed<VirtualServiceSpec> vs,
        ImmutableArray<HttpRouteRule> rules,
        ImmutableArray<IngressGateway> gateways,
        ImmutableDictionary<string, MeshService> services,
        bool hostsChecked,
        List<GatewayVirtualService> into)
    {
        var (resource, spec) = (vs.Resource, vs.Spec);
        var errorsBefore = _errors.Count;
        var keys = ImmutableArray.CreateBuilder<string>();
        for (var i = 0; i < spec.Gateways!.Count; i++)
        {
            var written = spec.Gateways[i];
            if (written == RequestMatch.MeshGateway)
            {
                continue;
            }

            var found = gateways.FirstOrDefault(g => g.IsNamedBy(written, resource.Namespace));
            if (found is null)
            {
                Error(resource, $"spec.gateways[{i}]", $"unknown gateway '{written}': no Gateway {(written.Contains('/', StringComparison.Ordinal) ? written : resource.Namespace + "/" + written)} is defined (or it has errors)" + ReferenceError);
                continue;
            }

            keys.Add(found.Key);
        }

        if (!hostsChecked)
        {
            if (spec.Tcp is not null || spec.Tls is not null)
            {
                Warn(resource, "spec", "tcp and tls routes are not served by Mesh gateways (they serve HTTP, HTTPS, HTTP2 and GRPC servers) and are ignored");
            }

            if (spec.Hosts is not { Count: > 0 })
            {
                Error(resource, "spec.hosts", "at least one host is required on a VirtualService bound to a gateway");
            }
            else
            {
                for (var i = 0; i < spec.Hosts.Count; i++)
                {
                    if (IstioNames.CheckHost(spec.Hosts[i], allowWildcard: true) is { } badHost)
                    {
                        Error(resource, $"spec.hosts[{i}]", badHost + SchemaError);
                    }
                }
            }
        }

        var http = spec.Http ?? [];
        for (var i = 0; i < http.Count; i++)
        {
            var destinations = http[i].Route ?? [];
            for (var j = 0; j < destinations.Count; j++)
            {
                if (destinations[j].Destination is { Host: { } name, Port: null }
                    && HostNames.Resolve(name, resource.Namespace, _clusterDomain, services.ContainsKey) is { } host
                    && services[host].Ports.Length > 1)
                {
                    Error(resource, $"spec.http[{i}].route[{j}].destination.port", $"is required: host '{host}' has {services[host].Ports.Length} ports, and on a gateway the request's port is the gateway's, not the service's");
                }
            }
        }

        if (_errors.Count == errorsBefore)
        {
            into.Add(new GatewayVirtualService(resource.Namespace, resource.Name, [.. spec.Hosts!], keys.ToImmutable(), rules, $"{resource.DisplayName} ({resource.Origin})"));
        }
    }
}
