using Mesh.ControlPlane.Configuration;

namespace Mesh.ControlPlane.GatewayApi;

/// <summary>An HTTPRoute or GRPCRoute being converted: the resource, its parents and hostnames, and what orders it among routes.</summary>
/// <param name="Resource">The route resource.</param>
/// <param name="ParentRefs">The parentRefs as read.</param>
/// <param name="Hostnames">The route's hostnames (empty for every host).</param>
/// <param name="CreatedAt">The creationTimestamp (empty when unknown): older routes win ties, as the Gateway API orders them.</param>
/// <param name="Generation">The resource's metadata.generation, for observedGeneration.</param>
internal sealed record RouteSource(ConfigResource Resource, List<ParentReferenceSpec> ParentRefs, List<string> Hostnames, string CreatedAt, long Generation);
