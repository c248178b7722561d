using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Mesh.ControlPlane.Authorization;
using Mesh.ControlPlane.Configuration;

namespace Mesh.ControlPlane.Model;

/// <summary>The outcome of building a snapshot: the snapshot when the input was valid, and every problem found.</summary>
/// <param name="Snapshot">The snapshot, or <see langword="null"/> when there were errors.</param>
/// <param name="Errors">Problems that reject the input.</param>
/// <param name="Warnings">Things that were accepted but ignored (Istio features Mesh does not act on).</param>
public sealed record MeshBuildResult(MeshSnapshot? Snapshot, IReadOnlyList<ConfigError> Errors, IReadOnlyList<ConfigError> Warnings)
{
    /// <summary>The status of every Gateway API resource Mesh controls, computed whether or not the input was valid.</summary>
    public ImmutableArray<GatewayApi.GatewayApiStatus> GatewayApiStatuses { get; init; } = [];
}

/// <summary>
/// Turns the resources of every source into one validated <see cref="MeshSnapshot"/>. It checks the input as a
/// whole and collects every error, each naming the origin, the resource and the field; a single error rejects the
/// whole input, so a caller keeps serving its last good snapshot.
/// </summary>
public sealed partial class MeshModelBuilder
{
    /// <summary>How a resource that is loaded but not applied to proxyless workloads is reported.</summary>
    public const string NotAppliedPrefix = "not applied to proxyless workloads: ";

    /// <summary>
    /// Parsed Kubernetes shapes (Service spec, EndpointSlice, Pod spec) by the JSON node they were read from. The shapes
    /// are only read after parsing, never changed.
    /// </summary>
    private static readonly ConditionalWeakTable<JsonNode, object> KubernetesSpecCache = new();

    private const string ServiceNameLabel = "kubernetes.io/service-name";
    private const string RegionLabel = "topology.kubernetes.io/region";
    private const string ZoneLabel = "topology.kubernetes.io/zone";
    private const string SubZoneLabel = "topology.istio.io/subzone";

    /// <summary>Istio's analyzer code for a value its schema rejects.</summary>
    private const string SchemaError = " (IST0106 SchemaValidationError)";

    /// <summary>Istio's analyzer code for a reference to something that does not exist.</summary>
    private const string ReferenceError = " (IST0101 ReferencedResourceNotFound)";

    internal static readonly JsonSerializerOptions SpecOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new LenientStringConverter() },
    };

    private readonly string _clusterDomain;
    private readonly List<ConfigError> _errors = [];
    private readonly List<ConfigError> _warnings = [];
    private readonly List<ConfigError> _notices = [];

    private MeshModelBuilder(string clusterDomain) => _clusterDomain = clusterDomain;

    /// <summary>Builds a snapshot from <paramref name="resources"/>; <paramref name="version"/> is stamped on it.</summary>
    public static MeshBuildResult Build(IReadOnlyList<ConfigResource> resources, long version, string clusterDomain = "cluster.local", string trustDomain = "cluster.local")
    {
        // The Gateway API is converted into Istio resources first, as Istio does; the model then reads only Istio's kinds.
        var gatewayApi = GatewayApi.GatewayApiConverter.Convert(resources, clusterDomain);
        var builder = new MeshModelBuilder(clusterDomain);
        builder._errors.AddRange(gatewayApi.Errors);
        builder._warnings.AddRange(gatewayApi.Warnings);
        var snapshot = builder.BuildCore(gatewayApi.Resources, version) with { TrustDomain = trustDomain };
        return new MeshBuildResult(builder._errors.Count == 0 ? snapshot : null, builder._errors, builder._warnings) { GatewayApiStatuses = gatewayApi.Statuses };
    }

    private MeshSnapshot BuildCore(IReadOnlyList<ConfigResource> resources, long version)
    {
        var parsed = ParseAll(resources);

        var services = new Dictionary<string, MeshService>(StringComparer.Ordinal);
        BuildServiceEntries(parsed, services);
        BuildKubernetesServices(parsed, services);
        var frozenServices = services.ToImmutableDictionary(StringComparer.Ordinal);

        var policies = BuildDestinationPolicies(parsed, frozenServices);
        var gateways = BuildGateways(parsed.Gateways);
        var gatewayRoutes = new List<GatewayVirtualService>();
        var routes = BuildRouteTables(parsed, frozenServices, policies, gateways, gatewayRoutes);
        var peerAuthentications = BuildPeerAuthentications(parsed.PeerAuthentications);
        var authorizationPolicies = AuthorizationPolicyBuilder.Build(parsed.AuthorizationPolicies, _errors);
        var telemetries = BuildTelemetries(parsed.Telemetries); // before NotApplied is read: it adds notices

        return new MeshSnapshot
        {
            Version = version,
            Services = frozenServices,
            Policies = policies,
            Routes = routes,
            PeerAuthentications = peerAuthentications,
            AuthorizationPolicies = authorizationPolicies,
            ClusterDomain = _clusterDomain,
            NotApplied = [.. _notices],
            Sidecars = BuildSidecars(parsed.Sidecars),
            Telemetries = telemetries,
            Gateways = gateways,
            GatewayRoutes = [.. gatewayRoutes.OrderBy(static g => g.Namespace, StringComparer.Ordinal).ThenBy(static g => g.Name, StringComparer.Ordinal)],
        };
    }

    // ---- parsing -------------------------------------------------------------------------------------------

    private sealed record Parsed<T>(ConfigResource Resource, T Spec)
    {
        public string Display => Resource.DisplayName;
    }

    private sealed class ParsedSet
    {
        public List<Parsed<VirtualServiceSpec>> VirtualServices { get; } = [];
        public List<Parsed<DestinationRuleSpec>> DestinationRules { get; } = [];
        public List<Parsed<ServiceEntrySpec>> ServiceEntries { get; } = [];
        public List<Parsed<WorkloadEntrySpec>> WorkloadEntries { get; } = [];
        public List<Parsed<KubeServiceSpec>> Services { get; } = [];
        public List<Parsed<KubeEndpointSlice>> EndpointSlices { get; } = [];
        public List<Parsed<PeerAuthenticationSpec>> PeerAuthentications { get; } = [];
        public Dictionary<(string Namespace, string Name), Parsed<KubePodSpec>> Pods { get; } = [];
        public Dictionary<string, ImmutableDictionary<string, string>> NodeLabels { get; } = new(StringComparer.Ordinal);
        public List<ConfigResource> AuthorizationPolicies { get; } = [];
        public List<Parsed<SidecarSpec>> Sidecars { get; } = [];
        public List<Parsed<TelemetrySpec>> Telemetries { get; } = [];
        public List<Parsed<GatewaySpec>> Gateways { get; } = [];
    }

    private ParsedSet ParseAll(IReadOnlyList<ConfigResource> resources)
    {
        var set = new ParsedSet();
        var seen = new Dictionary<(string Group, string Kind, string Namespace, string Name), ConfigResource>();
        foreach (var resource in resources)
        {
            if (resource is { Kind: "Node", ApiVersion: "v1" })
            {
                // A cluster-scoped core object the model reads only the locality labels of.
                set.NodeLabels[resource.Name] = LabelsOf(resource);
                continue;
            }

            var kind = IstioResourceKinds.Find(resource.Kind, resource.ApiVersion, out var knownName);
            if (kind is null && !knownName)
            {
                Error(resource, "kind", $"unknown kind '{resource.Kind}' (IST0106 SchemaValidationError): it is in none of Istio's networking, security or telemetry APIs nor the Gateway API; Mesh reads {string.Join(", ", IstioResourceKinds.Names)}");
                continue;
            }

            if (kind is null)
            {
                Error(resource, "apiVersion", $"'{resource.ApiVersion}' is not an apiVersion of {resource.Kind}; expected {string.Join(" or ", IstioResourceKinds.ApiVersionsOf(resource.Kind))}");
                continue;
            }

            if (!seen.TryAdd((kind.Group, resource.Kind, resource.Namespace, resource.Name), resource))
            {
                Error(resource, "metadata.name", $"duplicate resource: {resource.DisplayName} is also defined at {seen[(kind.Group, resource.Kind, resource.Namespace, resource.Name)].Origin}");
                continue;
            }

            if (IstioNames.CheckResourceName(resource.Name) is { } badName)
            {
                Error(resource, "metadata.name", badName + SchemaError);
                continue;
            }

            if (IstioNames.CheckNamespace(resource.Namespace) is { } badNamespace)
            {
                Error(resource, "metadata.namespace", badNamespace + SchemaError);
                continue;
            }

            if (kind.NotAppliedReason is { } reason)
            {
                NotApplied(resource, reason);
                continue;
            }

            switch (resource.Kind)
            {
                case "VirtualService":
                    AddSpec(resource, "spec", set.VirtualServices);
                    break;
                case "DestinationRule":
                    AddSpec(resource, "spec", set.DestinationRules);
                    break;
                case "ServiceEntry":
                    AddSpec(resource, "spec", set.ServiceEntries);
                    break;
                case "WorkloadEntry":
                    AddSpec(resource, "spec", set.WorkloadEntries);
                    break;
                case "Service":
                    AddSpec(resource, "spec", set.Services);
                    break;
                case "EndpointSlice":
                    AddSpec(resource, null, set.EndpointSlices);
                    break;
                case "PeerAuthentication":
                    AddSpec(resource, "spec", set.PeerAuthentications);
                    break;
                case "AuthorizationPolicy":
                    set.AuthorizationPolicies.Add(resource);
                    break;
                case "Sidecar":
                    AddSpec(resource, "spec", set.Sidecars);
                    break;
                case "Telemetry":
                    AddSpec(resource, "spec", set.Telemetries);
                    break;
                case "Secret":
                    break; // read by the Gateway API conversion (certificateRefs); holds no routing of its own
                case "Gateway" when kind.Group == "networking.istio.io":
                    AddSpec(resource, "spec", set.Gateways);
                    break;
                case "Pod":
                    var pods = new List<Parsed<KubePodSpec>>();
                    AddSpec(resource, "spec", pods);
                    foreach (var pod in pods)
                    {
                        set.Pods[(resource.Namespace, resource.Name)] = pod;
                    }

                    break;
                default:
                    NotApplied(resource, $"{resource.Kind} is read but not enforced by this version of Mesh");
                    break;
            }
        }

        return set;
    }

    private void AddSpec<T>(ConfigResource resource, string? property, List<Parsed<T>> into)
        where T : class
    {
        JsonNode? node = property is null ? resource.Body : resource.Body[property];
        if (node is null)
        {
            Error(resource, property, "is required");
            return;
        }

        // Kubernetes objects come from the informers' caches, which replace an object when it changes and keep the
        // same instance otherwise: their parsed shape is reused, so a rebuild parses only what changed.
        var cacheable = typeof(T) == typeof(KubeServiceSpec) || typeof(T) == typeof(KubeEndpointSlice) || typeof(T) == typeof(KubePodSpec);
        if (cacheable && KubernetesSpecCache.TryGetValue(node, out var cached) && cached is T hit)
        {
            into.Add(new Parsed<T>(resource, hit));
            return;
        }

        // An empty list item (`- ` with nothing after it) is null in JSON; every list of a spec holds objects or
        // values, so it is refused here with its path rather than reaching the builders as a null element.
        if (FindNullListItem(node) is { } nullItem)
        {
            Error(resource, (property ?? string.Empty) + nullItem, "is an empty list item");
            return;
        }

        try
        {
            var spec = node.Deserialize<T>(SpecOptions);
            if (spec is null)
            {
                Error(resource, property, "is required");
                return;
            }

            if (cacheable)
            {
                KubernetesSpecCache.AddOrUpdate(node, spec);
            }

            into.Add(new Parsed<T>(resource, spec));
        }
        catch (JsonException ex)
        {
            var path = (ex.Path ?? "$").TrimStart('$');
            var field = property is null ? path.TrimStart('.') : property + path;
            Error(resource, field, DescribeJsonError(ex));
        }
    }

    /// <summary>The path (<c>.http[1]</c>) of the first null element of an array under <paramref name="root"/>, or null.</summary>
    internal static string? FindNullListItem(JsonNode root)
    {
        var pending = new Stack<(JsonNode Node, string Path)>();
        pending.Push((root, string.Empty));
        while (pending.TryPop(out var current))
        {
            switch (current.Node)
            {
                case JsonArray array:
                    for (var i = array.Count - 1; i >= 0; i--)
                    {
                        var path = current.Path + "[" + i.ToString(CultureInfo.InvariantCulture) + "]";
                        if (array[i] is not { } item)
                        {
                            return path;
                        }

                        pending.Push((item, path));
                    }

                    break;
                case JsonObject obj:
                    foreach (var (name, value) in obj)
                    {
                        if (value is not null)
                        {
                            pending.Push((value, current.Path + "." + name));
                        }
                    }

                    break;
            }
        }

        return null;
    }

    internal static string DescribeJsonError(JsonException ex)
    {
        var message = ex.Message;
        var unknown = UnknownFieldPattern().Match(message);
        if (unknown.Success)
        {
            return $"unknown field '{unknown.Groups[1].Value}'";
        }

        var conversion = ConversionPattern().Match(message);
        if (conversion.Success)
        {
            var type = conversion.Groups[1].Value;
            var expected = type switch
            {
                _ when type.Contains("Int", StringComparison.Ordinal) => "a whole number",
                _ when type.Contains("Double", StringComparison.Ordinal) => "a number",
                _ when type.Contains("Boolean", StringComparison.Ordinal) => "true or false",
                _ when type.Contains("String", StringComparison.Ordinal) && !type.Contains("Dictionary", StringComparison.Ordinal) && !type.Contains("List", StringComparison.Ordinal) => "a string",
                _ when type.Contains("List", StringComparison.Ordinal) => "a list",
                _ => "a mapping",
            };
            return $"has the wrong type: expected {expected}";
        }

        return ex.InnerException?.Message ?? message;
    }

    [GeneratedRegex("The JSON property '([^']*)' could not be mapped")]
    private static partial Regex UnknownFieldPattern();

    [GeneratedRegex(@"could not be converted to ([^\s]+?)\. Path")]
    private static partial Regex ConversionPattern();

    // ---- services ------------------------------------------------------------------------------------------

    private void BuildServiceEntries(ParsedSet set, Dictionary<string, MeshService> services)
    {
        foreach (var entry in set.ServiceEntries)
        {
            var spec = entry.Spec;
            var resource = entry.Resource;
            if (spec.Hosts is not { Count: > 0 })
            {
                Error(resource, "spec.hosts", "at least one host is required");
                continue;
            }

            var ports = BuildServiceEntryPorts(entry);
            if (ports.IsDefaultOrEmpty)
            {
                continue;
            }

            var resolution = spec.Resolution ?? "NONE";
            if (resolution is not ("NONE" or "STATIC" or "DNS" or "DNS_ROUND_ROBIN"))
            {
                Error(resource, "spec.resolution", $"'{resolution}' is not one of NONE, STATIC, DNS, DNS_ROUND_ROBIN");
                continue;
            }

            if (spec.Location is not (null or "MESH_INTERNAL" or "MESH_EXTERNAL"))
            {
                Error(resource, "spec.location", $"'{spec.Location}' is not one of MESH_INTERNAL, MESH_EXTERNAL" + SchemaError);
                continue;
            }

            var exportTo = BuildExportTo(resource, spec.ExportTo);

            var endpoints = ImmutableArray.CreateBuilder<ServiceEndpoint>();
            var hostEndpoints = false;
            if (spec.Endpoints is { } inline)
            {
                if (spec.WorkloadSelector is not null)
                {
                    Error(resource, "spec.workloadSelector", "cannot be used together with spec.endpoints");
                }

                for (var i = 0; i < inline.Count; i++)
                {
                    if (BuildWorkloadEndpoint(resource, $"spec.endpoints[{i}]", inline[i], spec.Ports!, resolution) is { } endpoint)
                    {
                        endpoints.Add(endpoint);
                    }
                }
            }
            else if (spec.WorkloadSelector?.Labels is { } selector)
            {
                var labels = selector.ToImmutableDictionary();
                foreach (var workload in set.WorkloadEntries)
                {
                    if (workload.Resource.Namespace == resource.Namespace
                        && BuildWorkloadEndpoint(workload.Resource, "spec", workload.Spec, spec.Ports!, resolution) is { } endpoint
                        && endpoint.Matches(labels))
                    {
                        endpoints.Add(endpoint);
                    }
                }
            }
            else if (resolution is "DNS" or "DNS_ROUND_ROBIN" or "NONE")
            {
                // With DNS resolution and no endpoints, each host is the name the client resolves. With NONE
                // (passthrough) it is too: a proxyless client has no original destination, so it reaches the host it
                // was asked for by resolving that name, as it would with no mesh (the translator serves these as
                // LOGICAL_DNS clusters of one host each).
                hostEndpoints = true;
            }

            if (resolution == "DNS_ROUND_ROBIN" && endpoints.Count > 1)
            {
                // Istio's rule: DNS_ROUND_ROBIN (Envoy's LOGICAL_DNS) uses one name only.
                Error(resource, "spec.endpoints", $"resolution DNS_ROUND_ROBIN takes at most one endpoint, not {endpoints.Count}" + SchemaError);
                continue;
            }

            long endpointWeights = 0;
            foreach (var endpoint in endpoints)
            {
                endpointWeights += endpoint.Weight;
            }

            if (endpointWeights > uint.MaxValue)
            {
                Error(resource, "spec.endpoints", $"endpoint weights sum to {endpointWeights}, more than a locality's 32-bit weight holds" + SchemaError);
                continue;
            }

            for (var i = 0; i < spec.Hosts.Count; i++)
            {
                var host = spec.Hosts[i];
                if (string.IsNullOrWhiteSpace(host) || host.Contains('*', StringComparison.Ordinal))
                {
                    Error(resource, $"spec.hosts[{i}]", $"'{host}' is not supported: a host must be a non-wildcard DNS name");
                    continue;
                }

                if (IstioNames.CheckHost(host, allowWildcard: false) is { } badHost)
                {
                    Error(resource, $"spec.hosts[{i}]", badHost + SchemaError);
                    continue;
                }

                AddService(services, new MeshService
                {
                    Host = host,
                    Namespace = resource.Namespace,
                    Ports = ports,
                    Endpoints = hostEndpoints
                        ? [new ServiceEndpoint { Address = host, Ports = ports.ToImmutableDictionary(p => p.Number, p => p.Number) }]
                        : endpoints.ToImmutable(),
                    Resolution = resolution switch
                    {
                        "DNS" => ServiceResolution.Dns,
                        "DNS_ROUND_ROBIN" => ServiceResolution.DnsRoundRobin,
                        "NONE" => ServiceResolution.None,
                        _ => ServiceResolution.Static,
                    },
                    DeclaredBy = $"{resource.DisplayName} ({resource.Origin})",
                    ExportTo = exportTo,
                }, resource, $"spec.hosts[{i}]");
            }
        }
    }

    private ImmutableArray<ServicePort> BuildServiceEntryPorts(Parsed<ServiceEntrySpec> entry)
    {
        if (entry.Spec.Ports is not { Count: > 0 } ports)
        {
            Error(entry.Resource, "spec.ports", "at least one port is required");
            return default;
        }

        var result = ImmutableArray.CreateBuilder<ServicePort>(ports.Count);
        var ok = true;
        for (var i = 0; i < ports.Count; i++)
        {
            var port = ports[i];
            if (port.Number is not (> 0 and <= 65535))
            {
                Error(entry.Resource, $"spec.ports[{i}].number", "must be between 1 and 65535");
                ok = false;
                continue;
            }

            if (port.TargetPort is { } targetPort && targetPort is not (> 0 and <= 65535))
            {
                Error(entry.Resource, $"spec.ports[{i}].targetPort", $"must be between 1 and 65535, not {targetPort}" + SchemaError);
                ok = false;
                continue;
            }

            if (result.Any(p => p.Number == (int)port.Number))
            {
                Error(entry.Resource, $"spec.ports[{i}].number", $"port {port.Number} is listed twice");
                ok = false;
                continue;
            }

            result.Add(new ServicePort((int)port.Number, port.Name ?? string.Empty, (port.Protocol ?? "TCP").ToUpperInvariant()));
        }

        return ok ? result.ToImmutable() : default;
    }

    private ServiceEndpoint? BuildWorkloadEndpoint(ConfigResource resource, string field, WorkloadEntrySpec spec, List<ServiceEntryPort> servicePorts, string resolution)
    {
        if (string.IsNullOrWhiteSpace(spec.Address))
        {
            Error(resource, field + ".address", "is required");
            return null;
        }

        if (resolution is "STATIC" or "NONE" && !IPAddress.TryParse(spec.Address, out _))
        {
            Error(resource, field + ".address", $"'{spec.Address}' is not an IP address, as resolution {resolution} requires");
            return null;
        }

        if (resolution is "DNS" or "DNS_ROUND_ROBIN" && !IPAddress.TryParse(spec.Address, out _)
            && IstioNames.CheckHost(spec.Address, allowWildcard: false) is { } badName)
        {
            Error(resource, field + ".address", badName + SchemaError);
            return null;
        }

        var valid = true;
        foreach (var (portName, portNumber) in spec.Ports ?? [])
        {
            if (portNumber is not (> 0 and <= 65535))
            {
                Error(resource, $"{field}.ports.{portName}", $"must be between 1 and 65535, not {portNumber}" + SchemaError);
                valid = false;
            }
        }

        if (spec.Weight is > int.MaxValue)
        {
            // Envoy and gRPC add endpoint weights into a 32-bit locality weight: larger ones wrap and starve every call.
            Error(resource, field + ".weight", $"must be less than 2^31, not {spec.Weight}" + SchemaError);
            valid = false;
        }

        if (!valid)
        {
            return null;
        }

        var ports = ImmutableDictionary.CreateBuilder<int, int>();
        foreach (var port in servicePorts)
        {
            if (port.Number is not { } number)
            {
                continue;
            }

            var target = port.Name is not null && spec.Ports is not null && spec.Ports.TryGetValue(port.Name, out var named)
                ? (int)named
                : (int)(port.TargetPort ?? number);
            ports[(int)number] = target;
        }

        return new ServiceEndpoint
        {
            Address = spec.Address,
            Ports = ports.ToImmutable(),
            Labels = spec.Labels?.ToImmutableDictionary() ?? ImmutableDictionary<string, string>.Empty,
            Locality = Locality.Parse(spec.Locality),
            Weight = spec.Weight is > 0 ? (int)spec.Weight.Value : 1,
            ServiceAccount = spec.ServiceAccount ?? "default",
        };
    }

    private void BuildKubernetesServices(ParsedSet set, Dictionary<string, MeshService> services)
    {
        var slicesByService = set.EndpointSlices
            .Where(s => s.Resource.Body["metadata"]?["labels"]?[ServiceNameLabel] is not null)
            .ToLookup(s => (s.Resource.Namespace, Name: s.Resource.Body["metadata"]!["labels"]![ServiceNameLabel]!.ToString()));

        foreach (var slice in set.EndpointSlices)
        {
            if (slice.Resource.Body["metadata"]?["labels"]?[ServiceNameLabel] is null)
            {
                Error(slice.Resource, $"metadata.labels.{ServiceNameLabel}", "is required: it names the Service the slice belongs to");
            }
        }

        foreach (var service in set.Services)
        {
            var resource = service.Resource;
            if (service.Spec.Ports is not { Count: > 0 } specPorts)
            {
                Error(resource, "spec.ports", "at least one port is required");
                continue;
            }

            var ports = ImmutableArray.CreateBuilder<ServicePort>();
            for (var i = 0; i < specPorts.Count; i++)
            {
                var port = specPorts[i];
                if (port.Port is not (> 0 and <= 65535))
                {
                    Error(resource, $"spec.ports[{i}].port", "must be between 1 and 65535");
                    continue;
                }

                if (specPorts.Count > 1 && string.IsNullOrEmpty(port.Name))
                {
                    Error(resource, $"spec.ports[{i}].name", "is required when a Service has more than one port");
                    continue;
                }

                ports.Add(new ServicePort(port.Port.Value, port.Name ?? string.Empty, ProtocolOf(port)));
            }

            var endpoints = ImmutableArray.CreateBuilder<ServiceEndpoint>();
            foreach (var slice in slicesByService[(resource.Namespace, resource.Name)])
            {
                AddSliceEndpoints(set, slice, specPorts, endpoints);
            }

            AddService(services, new MeshService
            {
                Host = $"{resource.Name}.{resource.Namespace}.svc.{_clusterDomain}",
                Namespace = resource.Namespace,
                Ports = ports.ToImmutable(),
                Endpoints = endpoints.ToImmutable(),
                DeclaredBy = $"{resource.DisplayName} ({resource.Origin})",
            }, resource, "metadata.name");
        }
    }

    private static string ProtocolOf(KubeServicePort port)
    {
        // Istio's protocol selection: appProtocol first, then the port name's prefix.
        var candidate = port.AppProtocol ?? port.Name?.Split('-')[0] ?? string.Empty;
        return candidate.ToUpperInvariant() switch
        {
            "GRPC" or "GRPC-WEB" => "GRPC",
            "HTTP2" or "H2C" or "KUBERNETES.IO/H2C" => "HTTP2",
            "HTTP" => "HTTP",
            "HTTPS" => "HTTPS",
            _ => "TCP",
        };
    }

    private void AddSliceEndpoints(ParsedSet set, Parsed<KubeEndpointSlice> slice, List<KubeServicePort> servicePorts, ImmutableArray<ServiceEndpoint>.Builder into)
    {
        var resource = slice.Resource;
        if (slice.Spec.AddressType is not (null or "IPv4" or "IPv6"))
        {
            Warn(resource, "addressType", $"'{slice.Spec.AddressType}' slices are ignored");
            return;
        }

        // Map each service port to the slice's port: by name, or the only one.
        var ports = ImmutableDictionary.CreateBuilder<int, int>();
        foreach (var servicePort in servicePorts)
        {
            if (servicePort.Port is not { } number)
            {
                continue;
            }

            foreach (var slicePort in slice.Spec.Ports ?? [])
            {
                if ((slicePort.Name ?? string.Empty) == (servicePort.Name ?? string.Empty) && slicePort.Port is { } target and > 0 and <= 65535)
                {
                    ports[number] = target;
                }
            }
        }

        var endpoints = slice.Spec.Endpoints ?? [];
        for (var i = 0; i < endpoints.Count; i++)
        {
            var endpoint = endpoints[i];
            if (endpoint.Addresses is not { Count: > 0 })
            {
                Error(resource, $"endpoints[{i}].addresses", "at least one address is required");
                continue;
            }

            var labels = ImmutableDictionary<string, string>.Empty;
            var serviceAccount = "default";
            var nodeName = endpoint.NodeName;
            if (endpoint.TargetRef is { Kind: "Pod", Name: { } podName } target
                && set.Pods.TryGetValue((target.Namespace ?? resource.Namespace, podName), out var pod))
            {
                labels = LabelsOf(pod.Resource);
                serviceAccount = pod.Spec.ServiceAccountName ?? "default";
                nodeName ??= pod.Spec.NodeName;
            }

            var conditions = endpoint.Conditions;
            var health = conditions?.Terminating == true ? EndpointHealth.Draining
                : conditions?.Ready == false ? EndpointHealth.Unhealthy
                : EndpointHealth.Healthy;
            var locality = LocalityOf(set, endpoint, nodeName, labels);

            into.Add(new ServiceEndpoint
            {
                Address = endpoint.Addresses[0],
                Ports = ports.ToImmutable(),
                Labels = labels,
                Locality = locality,
                Health = health,
                ServiceAccount = serviceAccount,
            });
        }
    }

    /// <summary>
    /// An endpoint's locality as Istio derives it: region from its Node's <c>topology.kubernetes.io/region</c> label
    /// (or the Pod's own label of that name), zone from the slice endpoint's <c>zone</c> (which the EndpointSlice
    /// controller copies from the Node) or the Node's <c>topology.kubernetes.io/zone</c>, sub-zone from the Node's
    /// <c>topology.istio.io/subzone</c>.
    /// </summary>
    private static Locality LocalityOf(ParsedSet set, KubeEndpoint endpoint, string? nodeName, ImmutableDictionary<string, string> podLabels)
    {
        var node = nodeName is not null && set.NodeLabels.TryGetValue(nodeName, out var found) ? found : ImmutableDictionary<string, string>.Empty;
        var region = node.GetValueOrDefault(RegionLabel) ?? podLabels.GetValueOrDefault(RegionLabel) ?? string.Empty;
        var zone = endpoint.Zone is { Length: > 0 } sliceZone ? sliceZone : node.GetValueOrDefault(ZoneLabel) ?? string.Empty;
        return new Locality(region, zone, node.GetValueOrDefault(SubZoneLabel) ?? string.Empty);
    }

    private static ImmutableDictionary<string, string> LabelsOf(ConfigResource resource)
    {
        if (resource.Body["metadata"]?["labels"] is not JsonObject labels)
        {
            return ImmutableDictionary<string, string>.Empty;
        }

        return labels.Where(p => p.Value is not null).ToImmutableDictionary(p => p.Key, p => p.Value!.ToString());
    }

    private void AddService(Dictionary<string, MeshService> services, MeshService service, ConfigResource resource, string field)
    {
        if (services.TryGetValue(service.Host, out var existing))
        {
            Error(resource, field, $"host '{service.Host}' is already declared by {existing.DeclaredBy}");
            return;
        }

        services.Add(service.Host, service);
    }

    // ---- destination rules ---------------------------------------------------------------------------------

    private ImmutableDictionary<string, DestinationPolicy> BuildDestinationPolicies(ParsedSet set, ImmutableDictionary<string, MeshService> services)
    {
        var policies = ImmutableDictionary.CreateBuilder<string, DestinationPolicy>(StringComparer.Ordinal);
        foreach (var rule in set.DestinationRules)
        {
            var resource = rule.Resource;
            var spec = rule.Spec;
            if (string.IsNullOrWhiteSpace(spec.Host))
            {
                Error(resource, "spec.host", "is required");
                continue;
            }

            if (IstioNames.CheckHost(spec.Host, allowWildcard: true) is { } badHost)
            {
                Error(resource, "spec.host", badHost + SchemaError);
                continue;
            }

            var host = HostNames.Resolve(spec.Host, resource.Namespace, _clusterDomain, services.ContainsKey)
                ?? HostNames.Qualify(spec.Host, resource.Namespace, _clusterDomain);
            if (!services.ContainsKey(host))
            {
                Warn(resource, "spec.host", $"host '{spec.Host}' matches no service; the rule has no effect until one appears");
            }

            var traffic = BuildTrafficPolicy(resource, "spec.trafficPolicy", spec.TrafficPolicy, TrafficPolicy.Default);
            var subsets = ImmutableArray.CreateBuilder<SubsetPolicy>();
            var subsetList = spec.Subsets ?? [];
            for (var i = 0; i < subsetList.Count; i++)
            {
                var subset = subsetList[i];
                var field = $"spec.subsets[{i}]";
                if (string.IsNullOrWhiteSpace(subset.Name))
                {
                    Error(resource, field + ".name", "is required");
                    continue;
                }

                if (subset.Name.Contains('|', StringComparison.Ordinal))
                {
                    Error(resource, field + ".name", $"'{subset.Name}' may not contain '|'");
                    continue;
                }

                if (subsets.Any(s => s.Name == subset.Name))
                {
                    Error(resource, field + ".name", $"subset '{subset.Name}' is defined twice");
                    continue;
                }

                subsets.Add(new SubsetPolicy(
                    subset.Name,
                    subset.Labels?.ToImmutableDictionary() ?? ImmutableDictionary<string, string>.Empty,
                    BuildTrafficPolicy(resource, field + ".trafficPolicy", subset.TrafficPolicy, traffic)));
            }

            if (policies.TryGetValue(host, out var existing))
            {
                Error(resource, "spec.host", $"host '{host}' already has a DestinationRule: {existing.DeclaredBy}");
                continue;
            }

            policies.Add(host, new DestinationPolicy(host, traffic, subsets.ToImmutable(), $"{resource.DisplayName} ({resource.Origin})"));
        }

        return policies.ToImmutable();
    }

    private TrafficPolicy BuildTrafficPolicy(ConfigResource resource, string field, Configuration.TrafficPolicy? spec, TrafficPolicy inherited)
    {
        if (spec is null)
        {
            return inherited;
        }

        var policy = inherited;
        if (spec.LoadBalancer is { } lb)
        {
            if (lb.Simple is not null && lb.ConsistentHash is not null)
            {
                Error(resource, field + ".loadBalancer", "set either simple or consistentHash, not both");
            }
            else if (lb.Simple is { } simple)
            {
                policy = policy with { HashHeader = null, MinimumRingSize = null, HashCookie = null, HashSourceIp = false, HashQueryParameter = null };
                switch (simple)
                {
                    case "ROUND_ROBIN" or "UNSPECIFIED":
                        policy = policy with { LoadBalancer = LoadBalancerKind.RoundRobin };
                        break;
                    case "LEAST_REQUEST" or "LEAST_CONN":
                        policy = policy with { LoadBalancer = LoadBalancerKind.LeastRequest };
                        break;
                    case "RANDOM":
                        policy = policy with { LoadBalancer = LoadBalancerKind.Random };
                        break;
                    case "PASSTHROUGH":
                        Warn(resource, field + ".loadBalancer.simple", "PASSTHROUGH is not supported by proxyless clients; using ROUND_ROBIN");
                        policy = policy with { LoadBalancer = LoadBalancerKind.RoundRobin };
                        break;
                    default:
                        Error(resource, field + ".loadBalancer.simple", $"'{simple}' is not one of ROUND_ROBIN, LEAST_REQUEST, RANDOM, PASSTHROUGH");
                        break;
                }
            }
            else if (lb.ConsistentHash is { } hash)
            {
                var hashField = field + ".loadBalancer.consistentHash";
                var keys = (hash.HttpHeaderName is null ? 0 : 1) + (hash.HttpCookie is null ? 0 : 1) + (hash.UseSourceIp is null ? 0 : 1) + (hash.HttpQueryParameterName is null ? 0 : 1);
                if (keys != 1)
                {
                    Error(resource, hashField, "set exactly one of httpHeaderName, httpCookie, useSourceIp and httpQueryParameterName" + SchemaError);
                }
                else if (hash.UseSourceIp == false)
                {
                    Error(resource, hashField + ".useSourceIp", "is false, which names no hash key; set it to true or choose another key" + SchemaError);
                }
                else if (hash.HttpCookie is { Name: not { Length: > 0 } })
                {
                    Error(resource, hashField + ".httpCookie.name", "is required" + SchemaError);
                }
                else
                {
                    if (hash.Maglev is not null)
                    {
                        Warn(resource, hashField + ".maglev", "proxyless clients use a ring hash (gRFC A42); maglev is served as RING_HASH");
                    }

                    var cookie = hash.HttpCookie is { Name: { } cookieName } c
                        ? new HashCookie(cookieName, c.Path, c.Ttl is null ? null : NonNegativeDuration(resource, hashField + ".httpCookie.ttl", c.Ttl))
                        : null;
                    policy = policy with
                    {
                        LoadBalancer = LoadBalancerKind.RingHash,
                        HashHeader = hash.HttpHeaderName?.ToLowerInvariant(),
                        HashCookie = cookie,
                        HashSourceIp = hash.UseSourceIp == true,
                        HashQueryParameter = hash.HttpQueryParameterName,
                        MinimumRingSize = hash.RingHash?.MinimumRingSize ?? hash.MinimumRingSize,
                    };
                }
            }

            if (lb.LocalityLbSetting is { } locality)
            {
                policy = policy with { Locality = BuildLocality(resource, field + ".loadBalancer.localityLbSetting", locality) };
            }

            if (lb.WarmupDurationSecs is not null && lb.Warmup is not null)
            {
                Error(resource, field + ".loadBalancer", "set warmupDurationSecs or warmup, not both" + SchemaError);
            }
            else if (lb.WarmupDurationSecs is { } warmup && Duration(resource, field + ".loadBalancer.warmupDurationSecs", warmup) is { } window)
            {
                // Slow start (Cluster slow_start_config): Mesh.Client and Envoy ramp new endpoints up; stock gRPC clients ignore it.
                policy = policy with { Warmup = window };
            }
            else if (lb.Warmup is { } ramp)
            {
                policy = BuildWarmup(resource, field + ".loadBalancer.warmup", ramp, policy);
            }
        }

        if (spec.ConnectionPool is { } pool)
        {
            policy = BuildConnectionPool(resource, field + ".connectionPool", pool, policy);
        }

        if (spec.OutlierDetection is { } outlier)
        {
            policy = policy with { Outlier = BuildOutlier(resource, field + ".outlierDetection", outlier) };
        }

        if (spec.Tls is { } tls)
        {
            var mode = tls.Mode ?? "DISABLE";
            if (mode is not ("DISABLE" or "SIMPLE" or "MUTUAL" or "ISTIO_MUTUAL"))
            {
                Error(resource, field + ".tls.mode", $"'{mode}' is not one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL");
            }
            else
            {
                if (mode == "MUTUAL" && tls.CredentialName is null && (tls.ClientCertificate is null || tls.PrivateKey is null))
                {
                    Error(resource, field + ".tls", "MUTUAL needs credentialName, or clientCertificate and privateKey (IST0106 SchemaValidationError)");
                }

                if (mode is "SIMPLE" or "MUTUAL" && tls.CredentialName is null && tls.CaCertificates is null)
                {
                    Warn(resource, field + ".tls", $"{mode} without credentialName or caCertificates: proxyless clients verify the server against the certificate provider instance '{UpstreamTlsSettings.SystemRootsInstance}' of their bootstrap (gRFC A29), and fail the cluster closed without one");
                }

                if (tls.InsecureSkipVerify == true)
                {
                    Warn(resource, field + ".tls.insecureSkipVerify", "proxyless clients always verify the server; the setting is ignored, which is narrower than asked");
                }

                for (var i = 0; i < (tls.SubjectAltNames?.Count ?? 0); i++)
                {
                    if (string.IsNullOrWhiteSpace(tls.SubjectAltNames![i]))
                    {
                        Error(resource, $"{field}.tls.subjectAltNames[{i}]", "must not be empty");
                    }
                }

                policy = policy with
                {
                    TlsMode = mode,
                    Tls = new UpstreamTlsSettings
                    {
                        Mode = mode,
                        ClientCertificate = tls.ClientCertificate,
                        PrivateKey = tls.PrivateKey,
                        CaCertificates = tls.CaCertificates,
                        CredentialName = tls.CredentialName,
                        SubjectAltNames = tls.SubjectAltNames is null ? [] : [.. tls.SubjectAltNames],
                        Sni = tls.Sni,
                        InsecureSkipVerify = tls.InsecureSkipVerify ?? false,
                    },
                };
            }
        }

        if (spec.Tunnel is not null || spec.ProxyProtocol is not null)
        {
            Warn(resource, field, "tunnel and proxyProtocol apply to proxies only and are ignored for proxyless clients");
        }

        if (spec.PortLevelSettings is { } portLevel)
        {
            var ports = ImmutableDictionary.CreateBuilder<int, TrafficPolicy>();
            for (var i = 0; i < portLevel.Count; i++)
            {
                var portField = $"{field}.portLevelSettings[{i}]";
                if (portLevel[i].Port?.Number is not { } number || number is 0 or > 65535)
                {
                    Error(resource, portField + ".port.number", "must be between 1 and 65535" + SchemaError);
                    continue;
                }

                if (ports.ContainsKey((int)number))
                {
                    Error(resource, portField + ".port.number", $"port {number} has settings twice" + SchemaError);
                    continue;
                }

                // A port's settings lay over the whole service's: what the port sets wins, the rest is inherited.
                var own = new Configuration.TrafficPolicy
                {
                    LoadBalancer = portLevel[i].LoadBalancer,
                    ConnectionPool = portLevel[i].ConnectionPool,
                    OutlierDetection = portLevel[i].OutlierDetection,
                    Tls = portLevel[i].Tls,
                };
                ports[(int)number] = BuildTrafficPolicy(resource, portField, own, policy with { PortLevel = ImmutableDictionary<int, TrafficPolicy>.Empty });
            }

            policy = policy with { PortLevel = ports.ToImmutable() };
        }

        return policy;
    }

    private ImmutableArray<string> BuildExportTo(ConfigResource resource, List<string>? exportTo)
    {
        if (exportTo is not { Count: > 0 })
        {
            return ["*"];
        }

        var result = ImmutableArray.CreateBuilder<string>();
        for (var i = 0; i < exportTo.Count; i++)
        {
            var item = exportTo[i];
            if (item is "*" or "." or "~")
            {
                result.Add(item);
            }
            else if (IstioNames.CheckNamespace(item) is { } bad)
            {
                Error(resource, $"spec.exportTo[{i}]", bad + SchemaError);
            }
            else
            {
                result.Add(item);
            }
        }

        if (result.Contains("*") && result.Count > 1)
        {
            Error(resource, "spec.exportTo", "'*' cannot be combined with other namespaces" + SchemaError);
        }

        return result.ToImmutable();
    }

    private ImmutableArray<SidecarScope> BuildSidecars(List<Parsed<SidecarSpec>> sidecars)
    {
        var result = ImmutableArray.CreateBuilder<SidecarScope>();
        var defaults = new Dictionary<string, ConfigResource>(StringComparer.Ordinal);
        foreach (var (resource, spec) in sidecars)
        {
            var errorsBefore = _errors.Count;
            var selector = spec.WorkloadSelector?.Labels is { Count: > 0 } labels ? labels.ToImmutableDictionary(StringComparer.Ordinal) : null;
            if (selector is null && !defaults.TryAdd(resource.Namespace, resource))
            {
                Error(resource, "spec.workloadSelector", $"namespace {resource.Namespace} already has a Sidecar without a selector: {defaults[resource.Namespace].DisplayName}" + SchemaError);
                continue;
            }

            if (spec.Ingress is not null || spec.OutboundTrafficPolicy is not null || spec.InboundConnectionPool is not null)
            {
                Warn(resource, "spec", "ingress, outboundTrafficPolicy and inboundConnectionPool configure the proxy, which proxyless workloads do not run; only egress hosts scope what they are sent");
            }

            var hosts = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
            var egress = spec.Egress ?? [];
            if (egress.Count == 0)
            {
                Error(resource, "spec.egress", "at least one egress listener is required" + SchemaError);
            }

            for (var i = 0; i < egress.Count; i++)
            {
                var list = egress[i].Hosts ?? [];
                if (list.Count == 0)
                {
                    Error(resource, $"spec.egress[{i}].hosts", "at least one host is required" + SchemaError);
                }

                for (var j = 0; j < list.Count; j++)
                {
                    var field = $"spec.egress[{i}].hosts[{j}]";
                    var entry = list[j] ?? string.Empty;
                    var slash = entry.IndexOf('/', StringComparison.Ordinal);
                    if (slash <= 0 || slash == entry.Length - 1)
                    {
                        Error(resource, field, $"'{entry}' is not namespace/dnsName (for example ./* or istio-system/*)" + SchemaError);
                        continue;
                    }

                    var ns = entry[..slash];
                    var dnsName = entry[(slash + 1)..];
                    if (ns is not ("*" or "." or "~") && IstioNames.CheckNamespace(ns) is { } badNamespace)
                    {
                        Error(resource, field, badNamespace + SchemaError);
                        continue;
                    }

                    if (IstioNames.CheckHost(dnsName, allowWildcard: true) is { } badHost)
                    {
                        Error(resource, field, badHost + SchemaError);
                        continue;
                    }

                    hosts.Add(KeyValuePair.Create(ns, dnsName));
                }
            }

            if (_errors.Count == errorsBefore)
            {
                result.Add(new SidecarScope { Namespace = resource.Namespace, Selector = selector, EgressHosts = hosts.ToImmutable(), DeclaredBy = $"{resource.DisplayName} ({resource.Origin})" });
            }
        }

        return result.ToImmutable();
    }

    private TrafficPolicy BuildWarmup(ConfigResource resource, string field, WarmupSpec spec, TrafficPolicy policy)
    {
        if (spec.Duration is not { } text)
        {
            Error(resource, field + ".duration", "is required" + SchemaError);
            return policy;
        }

        if (Duration(resource, field + ".duration", text) is not { } window)
        {
            return policy;
        }

        if (spec.MinimumPercent is { } minimum && (double.IsNaN(minimum) || minimum is < 0 or > 100))
        {
            Error(resource, field + ".minimumPercent", $"{minimum} is not a percentage (0-100)" + SchemaError);
            return policy;
        }

        if (spec.Aggression is { } aggression && (double.IsNaN(aggression) || aggression < 1))
        {
            Error(resource, field + ".aggression", $"{aggression} is below 1" + SchemaError);
            return policy;
        }

        return policy with { Warmup = window, WarmupMinimumPercent = spec.MinimumPercent, WarmupAggression = spec.Aggression };
    }

    private LocalityLoadBalancing? BuildLocality(ConfigResource resource, string field, LocalityLbSettingSpec spec)
    {
        var failover = spec.Failover ?? [];
        var distribute = spec.Distribute ?? [];
        if (failover.Count > 0 && distribute.Count > 0)
        {
            Error(resource, field, "set failover or distribute, not both (Istio rejects both)" + SchemaError);
            return null;
        }

        var ok = true;
        for (var i = 0; i < failover.Count; i++)
        {
            if (string.IsNullOrEmpty(failover[i].From) || string.IsNullOrEmpty(failover[i].To) || failover[i].From == failover[i].To)
            {
                Error(resource, $"{field}.failover[{i}]", "from and to are required regions, and must differ" + SchemaError);
                ok = false;
            }
        }

        var spread = ImmutableArray.CreateBuilder<KeyValuePair<string, ImmutableArray<KeyValuePair<string, uint>>>>();
        for (var i = 0; i < distribute.Count; i++)
        {
            var item = distribute[i];
            long total = 0;
            foreach (var (_, weight) in item.To ?? [])
            {
                total += weight;
            }

            if (string.IsNullOrEmpty(item.From) || item.To is not { Count: > 0 } || total != 100)
            {
                Error(resource, $"{field}.distribute[{i}]", $"from is required and the weights of to must sum to 100, not {total}" + SchemaError);
                ok = false;
                continue;
            }

            spread.Add(KeyValuePair.Create(item.From, item.To.OrderBy(p => p.Key, StringComparer.Ordinal).ToImmutableArray()));
        }

        return ok
            ? new LocalityLoadBalancing
            {
                Enabled = spec.Enabled ?? true,
                Failover = [.. failover.Select(f => KeyValuePair.Create(f.From!, f.To!))],
                FailoverPriority = [.. spec.FailoverPriority ?? []],
                Distribute = spread.ToImmutable(),
            }
            : null;
    }

    private TimeSpan? NonNegativeDuration(ConfigResource resource, string field, string text)
    {
        if (IstioDuration.TryParse(text, out var value) && value >= TimeSpan.Zero)
        {
            return value;
        }

        Error(resource, field, $"'{text}' is not a duration (write it like 1.5s or 100ms)");
        return null;
    }

    private TrafficPolicy BuildConnectionPool(ConfigResource resource, string field, ConnectionPoolSettings pool, TrafficPolicy policy)
    {
        // As in Istio, a connectionPool replaces the inherited one whole: unset limits go back to the defaults.
        policy = policy with { MaxRequests = null, MaxPendingRequests = null, MaxRetries = null };
        if (pool.Http is { } http)
        {
            policy = policy with
            {
                MaxRequests = Limit(resource, field + ".http.http2MaxRequests", http.Http2MaxRequests),
                MaxPendingRequests = Limit(resource, field + ".http.http1MaxPendingRequests", http.Http1MaxPendingRequests),
                MaxRetries = Limit(resource, field + ".http.maxRetries", http.MaxRetries),
            };
            if (http.MaxRequestsPerConnection is not null || http.IdleTimeout is not null || http.H2UpgradePolicy is not null
                || http.UseClientProtocol is not null || http.MaxConcurrentStreams is not null)
            {
                Warn(resource, field + ".http", "maxRequestsPerConnection, idleTimeout, h2UpgradePolicy, useClientProtocol and maxConcurrentStreams are not used by proxyless clients and are ignored");
            }
        }

        if (pool.Tcp is not null)
        {
            Warn(resource, field + ".tcp", "TCP connection settings are not used by proxyless clients and are ignored");
        }

        return policy;
    }

    private int? Limit(ConfigResource resource, string field, int? value)
    {
        if (value is not { } limit)
        {
            return null;
        }

        if (limit <= 0)
        {
            Error(resource, field, $"must be greater than 0, not {limit}");
            return null;
        }

        return limit;
    }

    private OutlierPolicy BuildOutlier(ConfigResource resource, string field, Configuration.OutlierDetection spec)
    {
        var policy = new OutlierPolicy();
        if (Count(resource, field + ".consecutive5xxErrors", spec.Consecutive5xxErrors) is { } consecutive5xx)
        {
            policy = policy with { Consecutive5xxErrors = consecutive5xx };
        }

        if (Count(resource, field + ".consecutiveGatewayErrors", spec.ConsecutiveGatewayErrors) is { } gateway)
        {
            policy = policy with { ConsecutiveGatewayErrors = gateway };
        }

        if (spec.ConsecutiveErrors is not null)
        {
            Warn(resource, field + ".consecutiveErrors", "is deprecated and ignored, as in Istio; use consecutive5xxErrors or consecutiveGatewayErrors");
        }

        var localOrigin = Count(resource, field + ".consecutiveLocalOriginFailures", spec.ConsecutiveLocalOriginFailures);
        if (localOrigin is > 0 && spec.SplitExternalLocalOriginErrors != true)
        {
            Error(resource, field + ".consecutiveLocalOriginFailures", "is set, but splitExternalLocalOriginErrors is not true");
        }
        else if (spec.SplitExternalLocalOriginErrors is not null || spec.ConsecutiveLocalOriginFailures is not null)
        {
            Warn(resource, field + ".splitExternalLocalOriginErrors", "gRPC clients do not tell local-origin errors apart (gRFC A50); splitExternalLocalOriginErrors and consecutiveLocalOriginFailures are ignored");
        }

        if (spec.Interval is not null && Duration(resource, field + ".interval", spec.Interval) is { } interval)
        {
            policy = policy with { Interval = interval };
        }

        if (spec.BaseEjectionTime is not null && Duration(resource, field + ".baseEjectionTime", spec.BaseEjectionTime) is { } baseEjection)
        {
            policy = policy with { BaseEjectionTime = baseEjection };
        }

        if (spec.MaxEjectionPercent is { } maxPercent)
        {
            if (maxPercent is < 0 or > 100)
            {
                Error(resource, field + ".maxEjectionPercent", $"must be between 0 and 100, not {maxPercent}");
            }
            else if (maxPercent == 0)
            {
                Warn(resource, field + ".maxEjectionPercent", $"0 means unset in Istio, so the default of {PolicyDefaults.MaxEjectionPercent}% applies");
            }
            else
            {
                policy = policy with { MaxEjectionPercent = maxPercent };
            }
        }

        if (spec.MinHealthPercent is { } minHealth)
        {
            if (minHealth is < 0 or > 100)
            {
                Error(resource, field + ".minHealthPercent", $"must be between 0 and 100, not {minHealth}");
            }
            else
            {
                Warn(resource, field + ".minHealthPercent", "gRPC clients have no panic threshold; ignored");
            }
        }

        return policy;
    }

    private uint? Count(ConfigResource resource, string field, int? value)
    {
        if (value is not { } count)
        {
            return null;
        }

        if (count < 0)
        {
            Error(resource, field, $"must not be negative, not {count}");
            return null;
        }

        return (uint)count;
    }

    // ---- virtual services ----------------------------------------------------------------------------------

    private ImmutableDictionary<string, RouteTable> BuildRouteTables(
        ParsedSet set,
        ImmutableDictionary<string, MeshService> services,
        ImmutableDictionary<string, DestinationPolicy> policies,
        ImmutableArray<IngressGateway> gateways,
        List<GatewayVirtualService> gatewayRoutes)
    {
        var tables = ImmutableDictionary.CreateBuilder<string, RouteTable>(StringComparer.Ordinal);
        var byName = new Dictionary<(string Namespace, string Name), Parsed<VirtualServiceSpec>>();
        var delegates = new HashSet<(string Namespace, string Name)>();
        foreach (var vs in set.VirtualServices)
        {
            byName[(vs.Resource.Namespace, vs.Resource.Name)] = vs;
            foreach (var route in vs.Spec.Http ?? [])
            {
                if (route.Delegate is { Name: { } delegateName } target)
                {
                    delegates.Add((target.Namespace ?? vs.Resource.Namespace, delegateName));
                }
            }
        }

        foreach (var vs in set.VirtualServices)
        {
            var resource = vs.Resource;
            var spec = vs.Spec;
            var meshBound = spec.Gateways is not { Count: > 0 } named || named.Contains(RequestMatch.MeshGateway);
            var gatewayBound = spec.Gateways is { Count: > 0 } bound && bound.Exists(static g => g != RequestMatch.MeshGateway);
            if (!meshBound)
            {
                // Bound only to gateways: its hosts are the names clients use at the gateway, not mesh services.
                BindToGateways(vs, BuildRules(vs, services, policies, byName), gateways, services, hostsChecked: false, gatewayRoutes);
                continue;
            }

            if (spec.Hosts is not { Count: > 0 })
            {
                if (!delegates.Contains((resource.Namespace, resource.Name)))
                {
                    Error(resource, "spec.hosts", "at least one host is required (a VirtualService without hosts is only read as another's delegate, and none names this one)");
                }

                continue;
            }

            if (spec.Tcp is not null || spec.Tls is not null)
            {
                Warn(resource, "spec", "tcp and tls routes are not supported by proxyless clients and are ignored");
            }

            var rules = BuildRules(vs, services, policies, byName);
            if (gatewayBound)
            {
                BindToGateways(vs, rules, gateways, services, hostsChecked: true, gatewayRoutes);
            }

            for (var i = 0; i < spec.Hosts.Count; i++)
            {
                var name = spec.Hosts[i];
                if (IstioNames.CheckHost(name, allowWildcard: true) is { } badHost)
                {
                    Error(resource, $"spec.hosts[{i}]", badHost + SchemaError);
                    continue;
                }
                var host = HostNames.Resolve(name, resource.Namespace, _clusterDomain, services.ContainsKey);
                if (host is null)
                {
                    Error(resource, $"spec.hosts[{i}]", $"unknown host '{name}': no ServiceEntry or Service declares it" + ReferenceError);
                    continue;
                }

                if (tables.TryGetValue(host, out var existing))
                {
                    Error(resource, $"spec.hosts[{i}]", $"host '{host}' already has a VirtualService: {existing.DeclaredBy}");
                    continue;
                }

                tables.Add(host, new RouteTable(host, rules, $"{resource.DisplayName} ({resource.Origin})"));
            }
        }

        return tables.ToImmutable();
    }

    private ImmutableArray<HttpRouteRule> BuildRules(
        Parsed<VirtualServiceSpec> vs,
        ImmutableDictionary<string, MeshService> services,
        ImmutableDictionary<string, DestinationPolicy> policies,
        Dictionary<(string Namespace, string Name), Parsed<VirtualServiceSpec>> byName)
    {
        var rules = ImmutableArray.CreateBuilder<HttpRouteRule>();
        var http = vs.Spec.Http ?? [];
        for (var i = 0; i < http.Count; i++)
        {
            if (http[i].Delegate is not null)
            {
                rules.AddRange(BuildDelegated(vs, $"spec.http[{i}]", http[i], services, policies, byName));
            }
            else if (BuildRule(vs.Resource, $"spec.http[{i}]", http[i], services, policies, vs.Spec.Gateways) is { } rule)
            {
                rules.Add(rule);
            }
        }

        return rules.ToImmutable();
    }

    private HttpRouteRule? BuildRule(
        ConfigResource resource,
        string field,
        HttpRoute route,
        ImmutableDictionary<string, MeshService> services,
        ImmutableDictionary<string, DestinationPolicy> policies,
        List<string>? vsGateways)
    {
        var errorsBefore = _errors.Count;
        var matches = ImmutableArray.CreateBuilder<RequestMatch>();
        var matchList = route.Match ?? [];
        for (var i = 0; i < matchList.Count; i++)
        {
            matches.Add(BuildMatch(resource, $"{field}.match[{i}]", matchList[i], vsGateways));
        }

        var actions = (route.Route is { Count: > 0 } ? 1 : 0) + (route.Redirect is null ? 0 : 1) + (route.DirectResponse is null ? 0 : 1);
        if (actions > 1)
        {
            Error(resource, field, "set only one of route, redirect and directResponse" + SchemaError);
            return null;
        }

        var headers = route.Headers is null ? null : BuildHeaders(resource, field + ".headers", route.Headers);
        var cors = route.CorsPolicy is null ? null : BuildCors(resource, field + ".corsPolicy", route.CorsPolicy);
        if (route.Redirect is not null || route.DirectResponse is not null)
        {
            if (route.Rewrite is not null || route.Mirror is not null || route.Mirrors is not null || route.Retries is not null)
            {
                Error(resource, field, "rewrite, mirror and retries cannot be set with redirect or directResponse: nothing is forwarded" + SchemaError);
            }

            var answered = new HttpRouteRule
            {
                Name = route.Name,
                Matches = matches.ToImmutable(),
                Destinations = [],
                Redirect = route.Redirect is null ? null : BuildRedirect(resource, field + ".redirect", route.Redirect),
                DirectResponse = route.DirectResponse is null ? null : BuildDirectResponse(resource, field + ".directResponse", route.DirectResponse),
                Headers = headers,
                Cors = cors,
                Timeout = route.Timeout is null ? null : Duration(resource, field + ".timeout", route.Timeout),
                Fault = route.Fault is null ? null : BuildFault(resource, field + ".fault", route.Fault),
            };
            return _errors.Count == errorsBefore ? answered : null;
        }

        if (route.Route is not { Count: > 0 } destinations)
        {
            Error(resource, field + ".route", "at least one destination (or a redirect, directResponse or delegate) is required");
            return null;
        }

        var weighted = ImmutableArray.CreateBuilder<WeightedDestination>(destinations.Count);
        long total = 0;
        for (var i = 0; i < destinations.Count; i++)
        {
            var d = destinations[i];
            var dField = $"{field}.route[{i}]";

            // Weights are checked whatever else is wrong with a destination, so one mistake gives one error.
            var weight = d.Weight ?? (destinations.Count == 1 ? 100 : 0);
            if (weight < 0)
            {
                Error(resource, dField + ".weight", "must not be negative");
            }

            total += weight;
            if (d.Destination?.Host is not { Length: > 0 } name)
            {
                Error(resource, dField + ".destination.host", "is required");
                continue;
            }

            if (IstioNames.CheckHost(name, allowWildcard: false) is { } badHost)
            {
                Error(resource, dField + ".destination.host", badHost + SchemaError);
                continue;
            }

            var host = HostNames.Resolve(name, resource.Namespace, _clusterDomain, services.ContainsKey);
            if (host is null)
            {
                Error(resource, dField + ".destination.host", $"unknown host '{name}': no ServiceEntry or Service declares it" + ReferenceError);
                continue;
            }

            var service = services[host];
            if (d.Destination.Subset is { } subset
                && (!policies.TryGetValue(host, out var policy) || policy.FindSubset(subset) is null))
            {
                Error(resource, dField + ".destination.subset", $"unknown subset '{subset}' of host '{host}': no DestinationRule defines it" + ReferenceError);
                continue;
            }

            int? port = null;
            if (d.Destination.Port?.Number is { } number)
            {
                if (service.FindPort((int)number) is null)
                {
                    Error(resource, dField + ".destination.port.number", $"host '{host}' has no port {number}");
                    continue;
                }

                port = (int)number;
            }

            weighted.Add(new WeightedDestination(host, d.Destination.Subset, port, weight)
            {
                Headers = d.Headers is null ? null : BuildHeaders(resource, dField + ".headers", d.Headers),
            });
        }

        // Weights are relative, as in Istio since 1.15: any positive total splits in proportion. A total of 0 sends
        // nothing anywhere, and one past 2^32 - 1 wraps in Envoy's and gRPC's 32-bit sum.
        if (destinations.Count > 1 && total == 0)
        {
            Error(resource, field + ".route", "destination weights sum to 0: set a positive weight on at least one destination" + SchemaError);
        }
        else if (total > uint.MaxValue)
        {
            Error(resource, field + ".route", $"destination weights sum to {total}, more than the largest total weight {uint.MaxValue}" + SchemaError);
        }

        var rule = new HttpRouteRule
        {
            Name = route.Name,
            Matches = matches.ToImmutable(),
            Destinations = destinations.Count == 1 && weighted.Count == 1 ? [weighted[0] with { Weight = 100 }] : weighted.ToImmutable(),
            Timeout = route.Timeout is null ? null : Duration(resource, field + ".timeout", route.Timeout),
            Retries = route.Retries is null ? null : BuildRetries(resource, field + ".retries", route.Retries),
            Fault = route.Fault is null ? null : BuildFault(resource, field + ".fault", route.Fault),
            Rewrite = route.Rewrite is null ? null : BuildRewrite(resource, field + ".rewrite", route.Rewrite),
            Headers = headers,
            Mirrors = BuildMirrors(resource, field, route, services, policies),
            Cors = cors,
        };
        return _errors.Count == errorsBefore ? rule : null;
    }

    private RequestMatch BuildMatch(ConfigResource resource, string field, HttpMatchRequest match, List<string>? vsGateways)
    {
        if (match.Scheme is not null || match.QueryParams is not null)
        {
            Warn(resource, field, "proxyless clients cannot evaluate scheme or queryParams matches: for them this match never matches (gRFC A28); proxies apply it");
        }

        var headers = ImmutableArray.CreateBuilder<HeaderCondition>();
        if (match.Method is not null && BuildString(resource, field + ".method", match.Method) is { } method)
        {
            headers.Add(new HeaderCondition(":method", method, Invert: false));
        }

        if (match.Authority is not null && BuildString(resource, field + ".authority", match.Authority) is { } authority)
        {
            headers.Add(new HeaderCondition(":authority", authority, Invert: false));
        }

        foreach (var (name, value) in match.Headers ?? [])
        {
            headers.Add(new HeaderCondition(name.ToLowerInvariant(), BuildString(resource, $"{field}.headers.{name}", value, allowEmpty: true), Invert: false));
        }

        foreach (var (name, value) in match.WithoutHeaders ?? [])
        {
            headers.Add(new HeaderCondition(name.ToLowerInvariant(), BuildString(resource, $"{field}.withoutHeaders.{name}", value, allowEmpty: true), Invert: true));
        }

        var queryParameters = ImmutableArray.CreateBuilder<QueryParameterCondition>();
        foreach (var (name, value) in match.QueryParams ?? [])
        {
            queryParameters.Add(new QueryParameterCondition(name, BuildString(resource, $"{field}.queryParams.{name}", value, allowEmpty: true)));
        }

        // A match's own gateways replace its VirtualService's; with neither, it applies to the mesh.
        ImmutableArray<string> gateways = match.Gateways is { Count: > 0 } own ? [.. own]
            : vsGateways is { Count: > 0 } inherited ? [.. inherited]
            : [RequestMatch.MeshGateway];
        if (!gateways.Contains(RequestMatch.MeshGateway) && (vsGateways is not { Count: > 0 } || vsGateways.Contains(RequestMatch.MeshGateway)))
        {
            Warn(resource, field + ".gateways", "names only gateways, so this match never applies to mesh workloads");
        }

        return new RequestMatch
        {
            Uri = match.Uri is null ? null : BuildString(resource, field + ".uri", match.Uri),
            IgnoreUriCase = match.IgnoreUriCase ?? false,
            Headers = headers.ToImmutable(),
            Port = match.Port is { } port ? (int)port : null,
            QueryParameters = queryParameters.ToImmutable(),
            Scheme = match.Scheme is null ? null : BuildString(resource, field + ".scheme", match.Scheme),
            SourceLabels = match.SourceLabels?.ToImmutableDictionary(StringComparer.Ordinal),
            SourceNamespace = match.SourceNamespace,
            Gateways = gateways,
        };
    }

    private StringCondition? BuildString(ConfigResource resource, string field, StringMatch? match, bool allowEmpty = false)
    {
        if (match is null)
        {
            // `name:` with nothing after it (null in JSON): not `{}` (presence), so it is refused rather than widened.
            Error(resource, field, "is empty; use {} to match presence, or one of exact, prefix or regex");
            return null;
        }

        var set = (match.Exact is not null ? 1 : 0) + (match.Prefix is not null ? 1 : 0) + (match.Regex is not null ? 1 : 0);
        if (set == 0)
        {
            if (!allowEmpty)
            {
                Error(resource, field, "one of exact, prefix or regex is required");
            }

            return null; // a header match with no value means "present".
        }

        if (set > 1)
        {
            Error(resource, field, "set only one of exact, prefix or regex");
            return null;
        }

        if (match.Regex is { } regex)
        {
            if (Re2Syntax.Check(regex) is { } notRe2)
            {
                Error(resource, field + ".regex", $"'{regex}' is not RE2 syntax, which proxies and gRPC clients compile: {notRe2}" + SchemaError);
                return null;
            }

            try
            {
                _ = new Regex(regex, RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                Error(resource, field + ".regex", $"'{regex}' is not a valid regular expression: {ex.Message}");
                return null;
            }

            return new StringCondition(StringMatchKind.Regex, regex);
        }

        return match.Exact is { } exact
            ? new StringCondition(StringMatchKind.Exact, exact)
            : new StringCondition(StringMatchKind.Prefix, match.Prefix!);
    }

    private RetryPolicy? BuildRetries(ConfigResource resource, string field, HttpRetry retry)
    {
        var errorsBefore = _errors.Count;

        // As in Istio, unset attempts are 0, and 0 turns retries off.
        var attempts = retry.Attempts ?? 0;
        if (attempts < 0)
        {
            Error(resource, field + ".attempts", $"must not be negative, not {attempts} (0 turns retries off)");
        }
        else if (attempts == 0 && (retry.PerTryTimeout is not null || !string.IsNullOrEmpty(retry.RetryOn) || retry.RetryRemoteLocalities is not null))
        {
            Error(resource, field + ".attempts", "is 0 or unset, which turns retries off, yet perTryTimeout, retryOn or retryRemoteLocalities is set");
        }

        var perTry = retry.PerTryTimeout is null ? null : Duration(resource, field + ".perTryTimeout", retry.PerTryTimeout);
        var backoff = retry.Backoff is null ? PolicyDefaults.RetryBackoffBase : Duration(resource, field + ".backoff", retry.Backoff);
        var (retryOn, codes) = string.IsNullOrEmpty(retry.RetryOn)
            ? (PolicyDefaults.RetryOn, [PolicyDefaults.RetriableStatusCode])
            : ParseRetryOn(resource, field + ".retryOn", retry.RetryOn);

        if (retry.RetryRemoteLocalities is not null || retry.RetryIgnorePreviousHosts is not null)
        {
            Warn(resource, field, "retryRemoteLocalities and retryIgnorePreviousHosts are not used by proxyless clients and are ignored");
        }

        if (_errors.Count != errorsBefore || backoff is not { } baseInterval)
        {
            return null;
        }

        if (attempts >= PolicyDefaults.GrpcMaxAttempts)
        {
            Warn(resource, field + ".attempts", $"gRPC clients make at most {PolicyDefaults.GrpcMaxAttempts} attempts (gRFC A6), so they retry {PolicyDefaults.GrpcMaxAttempts - 1} times, not {attempts}");
        }

        if (attempts > 0 && !retryOn.Split(',').Any(RetryConditions.Grpc.Contains))
        {
            Warn(resource, field + ".retryOn", $"names no gRPC status ({string.Join(", ", RetryConditions.Grpc.Order(StringComparer.Ordinal))}), the only conditions gRPC clients act on (gRFC A44), so they will not retry");
        }

        return new RetryPolicy
        {
            Attempts = attempts,
            PerTryTimeout = perTry,
            RetryOn = retryOn,
            RetriableStatusCodes = codes,
            BackoffBaseInterval = baseInterval,
            BackoffMaxInterval = baseInterval * PolicyDefaults.RetryBackoffMaxMultiplier,
        };
    }

    /// <summary>Splits Istio's <c>retryOn</c> into Envoy's <c>retry_on</c> and its <c>retriable_status_codes</c>, as Istio does.</summary>
    private (string RetryOn, ImmutableArray<int> Codes) ParseRetryOn(ConfigResource resource, string field, string text)
    {
        var conditions = new List<string>();
        var codes = ImmutableArray.CreateBuilder<int>();
        foreach (var part in text.Split(','))
        {
            var item = part.Trim();
            if (RetryConditions.All.Contains(item))
            {
                conditions.Add(item);
            }
            else if (int.TryParse(item, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code)
                && code is >= 100 and <= 599)
            {
                codes.Add(code);
            }
            else
            {
                var what = item.Length == 0 ? $"'{text}' has an empty item" : $"'{item}' is not a retry condition";
                Error(resource, field, $"{what}; use HTTP status codes or {string.Join(", ", RetryConditions.Names)}");
            }
        }

        if (codes.Count > 0 && !conditions.Contains(RetryConditions.RetriableStatusCodes))
        {
            conditions.Add(RetryConditions.RetriableStatusCodes);
        }

        return (string.Join(',', conditions), codes.ToImmutable());
    }

    private FaultPolicy? BuildFault(ConfigResource resource, string field, HttpFaultInjection fault)
    {
        if (fault.Delay is null && fault.Abort is null)
        {
            Error(resource, field, "set delay, abort or both");
            return null;
        }

        var errorsBefore = _errors.Count;
        var policy = new FaultPolicy();
        if (fault.Delay is { } delay)
        {
            var delayField = field + ".delay";
            var percent = Percentage(resource, delayField, delay.Percentage, delay.Percent, "delayed");
            if (delay.ExponentialDelay is not null)
            {
                Error(resource, delayField + ".exponentialDelay", "is not supported (Istio rejects it too); use fixedDelay");
            }
            else if (delay.FixedDelay is null)
            {
                Error(resource, delayField + ".fixedDelay", "is required");
            }
            else if (Duration(resource, delayField + ".fixedDelay", delay.FixedDelay) is { } fixedDelay)
            {
                policy = policy with { Delay = fixedDelay, DelayPercent = percent };
            }
        }

        if (fault.Abort is { } abort)
        {
            var abortField = field + ".abort";
            var percent = Percentage(resource, abortField, abort.Percentage, null, "aborted");
            var kinds = (abort.HttpStatus is null ? 0 : 1) + (abort.GrpcStatus is null ? 0 : 1) + (abort.Http2Error is null ? 0 : 1);
            if (kinds > 1)
            {
                Error(resource, abortField, "set only one of httpStatus, grpcStatus and http2Error");
            }
            else if (abort.Http2Error is not null)
            {
                Error(resource, abortField + ".http2Error", "is not supported (Istio rejects it too); use grpcStatus or httpStatus");
            }
            else if (abort.HttpStatus is { } status)
            {
                if (status is < 200 or > 599)
                {
                    Error(resource, abortField + ".httpStatus", $"{status} is not an HTTP status between 200 and 599");
                }
                else
                {
                    policy = policy with { AbortHttpStatus = status, AbortPercent = percent };
                }
            }
            else if (abort.GrpcStatus is { } grpc)
            {
                if (GrpcStatusCodes.Parse(grpc) is { } code)
                {
                    policy = policy with { AbortGrpcStatus = code, AbortPercent = percent };
                }
                else
                {
                    Error(resource, abortField + ".grpcStatus", $"'{grpc}' is not a gRPC status name; use one of {GrpcStatusCodes.AllNames}");
                }
            }
            else
            {
                // Istio accepts an abort without an error type with a warning, and sends no abort.
                Warn(resource, abortField, "has no httpStatus or grpcStatus; ignored");
            }
        }

        // Like Istio, send no fault when nothing is left to inject.
        var injects = policy.Delay is not null || policy.AbortHttpStatus is not null || policy.AbortGrpcStatus is not null;
        return _errors.Count == errorsBefore && injects ? policy : null;
    }

    private double Percentage(ConfigResource resource, string field, Configuration.Percent? percentage, int? legacyPercent, string outcome)
    {
        if (percentage is not null)
        {
            var value = percentage.Value ?? 0;
            if (double.IsNaN(value) || value is < 0 or > 100)
            {
                Error(resource, field + ".percentage.value", $"must be between 0 and 100, not {value}");
                return 0;
            }

            return value;
        }

        if (legacyPercent is { } percent)
        {
            if (percent is < 0 or > 100)
            {
                Error(resource, field + ".percent", $"must be between 0 and 100, not {percent}");
                return 0;
            }

            return percent;
        }

        Warn(resource, field + ".percentage", $"is not set, so no request is {outcome} (Istio's default); set percentage.value");
        return 0;
    }

    private TimeSpan? Duration(ConfigResource resource, string field, string text)
    {
        if (IstioDuration.TryParse(text, out var value) && value > TimeSpan.Zero)
        {
            return value;
        }

        if (IstioDuration.TryParse(text, out _))
        {
            Error(resource, field, "must be greater than zero");
            return null;
        }

        Error(resource, field, $"'{text}' is not a duration (write it like 1.5s or 100ms)");
        return null;
    }

    private void Error(ConfigResource resource, string? field, string message) =>
        _errors.Add(new ConfigError(resource.Origin, resource.DisplayName, field, message));

    private void NotApplied(ConfigResource resource, string reason)
    {
        var notice = new ConfigError(resource.Origin, resource.DisplayName, null, NotAppliedPrefix + reason);
        _warnings.Add(notice);
        _notices.Add(notice);
    }

    private void Warn(ConfigResource resource, string? field, string message) =>
        _warnings.Add(new ConfigError(resource.Origin, resource.DisplayName, field, message));
}
