using System.Collections.Immutable;

namespace Mesh.ControlPlane.GatewayApi;

/// <summary>A Kubernetes Service as the conversion needs it: its host, its ports and its pod selector.</summary>
/// <param name="Namespace">The Service's namespace.</param>
/// <param name="Name">The Service's name.</param>
/// <param name="Host">The fully qualified host, <c>name.namespace.svc.cluster-domain</c>.</param>
/// <param name="Ports">The Service's port numbers.</param>
/// <param name="Selector">The Service's pod selector, empty when it has none.</param>
internal sealed record KubeServiceRef(string Namespace, string Name, string Host, ImmutableHashSet<int> Ports, ImmutableDictionary<string, string> Selector);
