using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Configuration;

// The parts of core Kubernetes resources Mesh reads. Kubernetes objects carry many fields Mesh has no use for
// (status, managedFields, ...), so unknown fields are skipped here, unlike the Istio shapes.

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
internal sealed class KubeServiceSpec
{
    public List<KubeServicePort>? Ports { get; set; }
    public Dictionary<string, string>? Selector { get; set; }
    public string? ClusterIP { get; set; }
    public string? Type { get; set; }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
internal sealed class KubeServicePort
{
    public string? Name { get; set; }
    public int? Port { get; set; }
    public JsonElement? TargetPort { get; set; }
    public string? Protocol { get; set; }
    public string? AppProtocol { get; set; }
}

/// <summary>An EndpointSlice has no <c>spec</c>: its fields sit at the top level of the resource.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
internal sealed class KubeEndpointSlice
{
    public string? AddressType { get; set; }
    public List<KubeEndpoint>? Endpoints { get; set; }
    public List<KubeEndpointPort>? Ports { get; set; }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
internal sealed class KubeEndpoint
{
    public List<string>? Addresses { get; set; }
    public KubeEndpointConditions? Conditions { get; set; }
    public string? Hostname { get; set; }
    public string? NodeName { get; set; }
    public string? Zone { get; set; }
    public KubeObjectReference? TargetRef { get; set; }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
internal sealed class KubeEndpointConditions
{
    public bool? Ready { get; set; }
    public bool? Serving { get; set; }
    public bool? Terminating { get; set; }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
internal sealed class KubeEndpointPort
{
    public string? Name { get; set; }
    public int? Port { get; set; }
    public string? Protocol { get; set; }
    public string? AppProtocol { get; set; }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
internal sealed class KubeObjectReference
{
    public string? Kind { get; set; }
    public string? Name { get; set; }
    public string? Namespace { get; set; }
}

/// <summary>The parts of a Pod that give its endpoint labels and identity.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
internal sealed class KubePodSpec
{
    public string? ServiceAccountName { get; set; }
    public string? NodeName { get; set; }
}
