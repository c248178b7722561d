using System.Text.Json.Nodes;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.GatewayApi;

internal sealed partial class GatewayApiConverter
{
    private static readonly string[] RouteKinds = ["HTTPRoute", "GRPCRoute"];

    /// <summary>
    /// Judges every listener of every Gateway of a class Mesh controls, and generates an Istio Gateway for each one that
    /// can be served: one server with the listener's port, protocol, hostname and certificate, on the workloads that
    /// carry the Gateway's name label (or, for a Gateway whose address names a Service, that Service's pods).
    /// </summary>
    private void ConvertGateways()
    {
        foreach (var (resource, spec) in _gatewayResources)
        {
            if (spec.GatewayClassName is not { } className || !_ownClasses.Contains(className))
            {
                continue; // another controller's Gateway: neither served nor given a status by Mesh
            }

            var gateway = new GatewayState(resource, spec, GenerationOf(resource));
            _gateways[(resource.Namespace, resource.Name)] = gateway;
            gateway.Selector = new Dictionary<string, string>(StringComparer.Ordinal) { [GatewayApiNames.GatewayNameLabel] = resource.Name };
            ResolveAddresses(gateway);
            var listeners = spec.Listeners ?? [];
            for (var i = 0; i < listeners.Count; i++)
            {
                gateway.Listeners.Add(JudgeListener(gateway, i, listeners[i]));
            }

            FindConflicts(gateway);
            foreach (var listener in gateway.Listeners)
            {
                if (listener.Ready && gateway.AddressProblem is null)
                {
                    EmitListener(gateway, listener);
                }
            }
        }
    }

    private void ResolveAddresses(GatewayState gateway)
    {
        var addresses = gateway.Spec.Addresses ?? [];
        for (var i = 0; i < addresses.Count; i++)
        {
            var address = addresses[i];
            if ((address.Type ?? "IPAddress") != "Hostname" || address.Value is not { Length: > 0 } value)
            {
                gateway.AddressProblem = $"spec.addresses[{i}]: Mesh does not assign addresses; name the gateway's Service with type Hostname instead";
                return;
            }

            // A Gateway bound to an existing gateway deployment through its Service (Istio's manual deployment).
            var host = HostNames.Qualify(value, gateway.Resource.Namespace, _clusterDomain);
            if (!_servicesByHost.TryGetValue(host, out var service) || service.Selector.IsEmpty)
            {
                gateway.AddressProblem = $"spec.addresses[{i}]: no Service with a selector has host '{value}'";
                return;
            }

            gateway.Selector = new Dictionary<string, string>(service.Selector, StringComparer.Ordinal);
        }
    }

    private ListenerState JudgeListener(GatewayState gateway, int index, ListenerSpec spec)
    {
        var name = spec.Name ?? $"listener-{Text(index)}";
        var protocol = spec.Protocol ?? string.Empty;
        var listener = new ListenerState
        {
            Index = index,
            Name = name,
            Port = spec.Port ?? 0,
            Protocol = protocol,
            Hostname = string.IsNullOrEmpty(spec.Hostname) ? null : spec.Hostname,
            IstioGateway = GatewayApiNames.ListenerGateway(gateway.Resource.Name, name),
        };
        var field = $"spec.listeners[{Text(index)}]";
        if (protocol is not ("HTTP" or "HTTPS"))
        {
            listener.NotAccepted = (GatewayConditions.UnsupportedProtocol, $"protocol '{protocol}' is not served by Mesh gateways; they serve HTTP and HTTPS (GRPCRoutes attach to either)");
        }
        else if (listener.Port is < 1 or > 65535)
        {
            listener.NotAccepted = ("PortUnavailable", "port must be from 1 to 65535");
        }
        else if (listener.Hostname is { } hostname && IstioNames.CheckHost(hostname, allowWildcard: true) is { } badHost)
        {
            listener.NotAccepted = (GatewayConditions.UnsupportedValue, $"hostname '{hostname}': {badHost}");
        }

        // The route kinds: those of allowedRoutes.kinds that Mesh serves, by default both.
        if (spec.AllowedRoutes?.Kinds is { Count: > 0 } kinds)
        {
            foreach (var kind in kinds)
            {
                if ((kind.Group ?? GatewayApiNames.Group) == GatewayApiNames.Group && Array.IndexOf(RouteKinds, kind.Kind) >= 0)
                {
                    listener.Kinds.Add(kind.Kind!);
                }
                else
                {
                    listener.Unresolved = (GatewayConditions.InvalidRouteKinds, $"route kind {kind.Group}/{kind.Kind} is not served on {protocol} listeners; Mesh serves HTTPRoute and GRPCRoute");
                }
            }
        }
        else
        {
            listener.Kinds.AddRange(RouteKinds);
        }

        listener.From = spec.AllowedRoutes?.Namespaces?.From ?? "Same";
        JudgeTls(gateway, listener, spec, field);
        return listener;
    }

    private void JudgeTls(GatewayState gateway, ListenerState listener, ListenerSpec spec, string field)
    {
        if (listener.Protocol == "HTTP")
        {
            if (spec.Tls is not null)
            {
                listener.NotAccepted ??= (GatewayConditions.UnsupportedValue, "tls is set on an HTTP listener; use protocol HTTPS to terminate TLS");
            }

            return;
        }

        if (listener.Protocol != "HTTPS")
        {
            return;
        }

        var tls = spec.Tls;
        if (tls is null || (tls.Mode ?? "Terminate") != "Terminate")
        {
            listener.NotAccepted ??= (GatewayConditions.UnsupportedValue, tls is null ? "an HTTPS listener needs tls with certificateRefs" : $"tls mode '{tls.Mode}' is not served: Mesh gateways terminate TLS");
            return;
        }

        if (tls.Options is { Count: > 0 } || tls.FrontendValidation is not null)
        {
            listener.NotAccepted ??= (GatewayConditions.UnsupportedValue, "tls.options and tls.frontendValidation are not applied by Mesh gateways, so the listener is refused rather than served without them");
            return;
        }

        if (tls.CertificateRefs is not { Count: 1 } refs)
        {
            listener.Unresolved = (GatewayConditions.InvalidCertificateRef, "exactly one certificateRef is served per listener");
            listener.CertificateUnresolved = true;
            return;
        }

        var reference = refs[0];
        var ns = reference.Namespace ?? gateway.Resource.Namespace;
        var secretName = reference.Name ?? string.Empty;
        if ((reference.Group ?? string.Empty) != string.Empty || (reference.Kind ?? "Secret") != "Secret")
        {
            listener.Unresolved = (GatewayConditions.InvalidCertificateRef, $"certificateRef {reference.Group}/{reference.Kind} {secretName} is not a Secret");
            listener.CertificateUnresolved = true;
            return;
        }

        if (ns != gateway.Resource.Namespace)
        {
            if (!_grants.Allows(GatewayApiNames.Group, "Gateway", gateway.Resource.Namespace, string.Empty, "Secret", ns, secretName))
            {
                listener.Unresolved = (GatewayConditions.RefNotPermitted, $"Secret {ns}/{secretName} is in another namespace and no ReferenceGrant there allows it");
            }
            else
            {
                listener.Unresolved = (GatewayConditions.InvalidCertificateRef, $"Secret {ns}/{secretName}: Mesh gateways read certificates from the Gateway's own namespace");
            }

            listener.CertificateUnresolved = true;
            return;
        }

        if (!_secrets.TryGetValue((ns, secretName), out var secret))
        {
            listener.Unresolved = (GatewayConditions.InvalidCertificateRef, $"Secret {ns}/{secretName} does not exist");
            listener.CertificateUnresolved = true;
            return;
        }

        if (TlsSecrets.Check(secret.Body) is { } problem)
        {
            listener.Unresolved = (GatewayConditions.InvalidCertificateRef, $"Secret {ns}/{secretName} {problem}");
            listener.CertificateUnresolved = true;

            // A certificate that stops parsing rejects the update, so the gateway keeps serving the last good one.
            Error(gateway.Resource, field + ".tls.certificateRefs[0]", $"Secret {ns}/{secretName} ({secret.Origin}) {problem}; the last good configuration keeps serving");
            return;
        }

        listener.CredentialName = secretName;
    }

    /// <summary>
    /// Listeners on one port must be distinct: one protocol per port, one listener per hostname, and, since a Mesh gateway
    /// serves one certificate per port, one HTTPS listener per port. The first listener keeps the port; the later ones
    /// are conflicted and not served.
    /// </summary>
    private static void FindConflicts(GatewayState gateway)
    {
        var listeners = gateway.Listeners;
        for (var i = 0; i < listeners.Count; i++)
        {
            var later = listeners[i];
            if (later.NotAccepted is not null)
            {
                continue;
            }

            for (var j = 0; j < i; j++)
            {
                var earlier = listeners[j];
                if (earlier.NotAccepted is not null || earlier.Conflict is not null || earlier.Port != later.Port)
                {
                    continue;
                }

                if (earlier.Protocol != later.Protocol)
                {
                    later.Conflict = (GatewayConditions.ProtocolConflict, $"port {Text(later.Port)} is {earlier.Protocol} for listener '{earlier.Name}'");
                }
                else if (earlier.Hostname == later.Hostname)
                {
                    later.Conflict = (GatewayConditions.HostnameConflict, $"listener '{earlier.Name}' already serves hostname '{later.Hostname ?? "*"}' on port {Text(later.Port)}");
                }
                else if (later.Protocol == "HTTPS")
                {
                    later.Conflict = (GatewayConditions.HostnameConflict, $"listener '{earlier.Name}' already terminates TLS on port {Text(later.Port)}; Mesh gateways serve one certificate per port");
                }

                if (later.Conflict is not null)
                {
                    break;
                }
            }
        }
    }

    private void EmitListener(GatewayState gateway, ListenerState listener)
    {
        var server = new JsonObject
        {
            ["port"] = new JsonObject { ["number"] = listener.Port, ["protocol"] = listener.Protocol, ["name"] = listener.Name },
            ["hosts"] = new JsonArray($"{gateway.Resource.Namespace}/{listener.Hostname ?? "*"}"),
        };
        if (listener.CredentialName is { } credential)
        {
            server["tls"] = new JsonObject { ["mode"] = "SIMPLE", ["credentialName"] = credential };
        }

        var selector = new JsonObject();
        foreach (var (key, value) in gateway.Selector.OrderBy(static p => p.Key, StringComparer.Ordinal))
        {
            selector[key] = value;
        }

        AddIstio("Gateway", gateway.Resource.Namespace, listener.IstioGateway, $"{gateway.Resource.Origin} (converted from the Gateway API)", new JsonObject
        {
            ["selector"] = selector,
            ["servers"] = new JsonArray(server),
        });
    }

    /// <summary>The Gateways' status, once routes have attached: the Gateway's conditions and each listener's.</summary>
    private void ReportGateways()
    {
        foreach (var gateway in _gateways.Values)
        {
            var resource = gateway.Resource;
            var generation = gateway.Generation;
            var listeners = new JsonArray();
            var ready = 0;
            foreach (var listener in gateway.Listeners)
            {
                var conditions = new JsonArray
                {
                    listener.NotAccepted is { } notAccepted
                        ? GatewayConditions.Create(GatewayConditions.Accepted, false, notAccepted.Reason, notAccepted.Message, generation)
                        : GatewayConditions.Create(GatewayConditions.Accepted, true, GatewayConditions.Accepted, "Listener is valid", generation),
                    listener.Conflict is { } conflict
                        ? GatewayConditions.Create(GatewayConditions.Conflicted, true, conflict.Reason, conflict.Message, generation)
                        : GatewayConditions.Create(GatewayConditions.Conflicted, false, GatewayConditions.NoConflicts, "No conflicts", generation),
                    listener.Unresolved is { } unresolved
                        ? GatewayConditions.Create(GatewayConditions.ResolvedRefs, false, unresolved.Reason, unresolved.Message, generation)
                        : GatewayConditions.Create(GatewayConditions.ResolvedRefs, true, GatewayConditions.ResolvedRefs, "All references resolved", generation),
                };
                var served = listener.Ready && gateway.AddressProblem is null;
                conditions.Add(served
                    ? GatewayConditions.Create(GatewayConditions.Programmed, true, GatewayConditions.Programmed, $"Served as Istio Gateway {resource.Namespace}/{listener.IstioGateway}", generation)
                    : GatewayConditions.Create(GatewayConditions.Programmed, false, GatewayConditions.Invalid, "Not served: " + ListenerProblem(listener, gateway), generation));
                if (served)
                {
                    ready++;
                }
                else
                {
                    Warn(resource, $"spec.listeners[{Text(listener.Index)}]", $"listener '{listener.Name}' is not served: {ListenerProblem(listener, gateway)}");
                }

                var kinds = new JsonArray();
                foreach (var kind in listener.Kinds)
                {
                    kinds.Add(new JsonObject { ["group"] = GatewayApiNames.Group, ["kind"] = kind });
                }

                listeners.Add(new JsonObject
                {
                    ["name"] = listener.Name,
                    ["supportedKinds"] = kinds,
                    ["attachedRoutes"] = listener.AttachedRoutes,
                    ["conditions"] = conditions,
                });
            }

            var all = gateway.Listeners.Count;
            var gatewayConditions = new JsonArray();
            if (gateway.AddressProblem is { } addressProblem)
            {
                gatewayConditions.Add(GatewayConditions.Create(GatewayConditions.Accepted, false, GatewayConditions.UnsupportedAddress, addressProblem, generation));
                gatewayConditions.Add(GatewayConditions.Create(GatewayConditions.Programmed, false, GatewayConditions.Invalid, addressProblem, generation));
                Warn(resource, "spec.addresses", addressProblem);
            }
            else
            {
                var selector = string.Join(",", gateway.Selector.OrderBy(static p => p.Key, StringComparer.Ordinal).Select(static p => p.Key + "=" + p.Value));
                gatewayConditions.Add(ready == all
                    ? GatewayConditions.Create(GatewayConditions.Accepted, true, GatewayConditions.Accepted, "Resource accepted", generation)
                    : GatewayConditions.Create(GatewayConditions.Accepted, ready > 0, GatewayConditions.ListenersNotValid, $"{Text(all - ready)} of {Text(all)} listener(s) are not valid; see status.listeners", generation));
                gatewayConditions.Add(ready > 0
                    ? GatewayConditions.Create(GatewayConditions.Programmed, true, GatewayConditions.Programmed, $"Served to the gateway workloads labelled {selector}", generation)
                    : GatewayConditions.Create(GatewayConditions.Programmed, false, GatewayConditions.Invalid, "No listener can be served", generation));
            }

            _statuses.Add(new GatewayApiStatus(resource.Kind, resource.Namespace, resource.Name, resource.Origin, new JsonObject
            {
                ["conditions"] = gatewayConditions,
                ["listeners"] = listeners,
            }));
        }
    }

    private static string ListenerProblem(ListenerState listener, GatewayState gateway) =>
        gateway.AddressProblem ?? listener.NotAccepted?.Message ?? listener.Conflict?.Message ?? listener.Unresolved?.Message ?? "not ready";
}
