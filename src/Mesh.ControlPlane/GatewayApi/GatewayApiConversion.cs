using System.Collections.Immutable;
using Mesh.ControlPlane.Configuration;

namespace Mesh.ControlPlane.GatewayApi;

/// <summary>What the Gateway API conversion produced from a set of resources.</summary>
/// <param name="Resources">
/// The input without the Gateway API resources it converted, plus the Istio Gateways and VirtualServices generated
/// from them: what the mesh model reads.
/// </param>
/// <param name="Errors">Gateway API resources that could not be read at all (a malformed spec), and TLS Secrets that do not parse.</param>
/// <param name="Warnings">Every condition that is not as it should be (a route not accepted, a listener conflicted), in words.</param>
/// <param name="Statuses">The status of every GatewayClass, Gateway and route Mesh is the controller of.</param>
internal sealed record GatewayApiConversion(
    IReadOnlyList<ConfigResource> Resources,
    IReadOnlyList<ConfigError> Errors,
    IReadOnlyList<ConfigError> Warnings,
    ImmutableArray<GatewayApiStatus> Statuses);
