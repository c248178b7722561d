using Mesh.Cli.Output;

namespace Mesh.Cli.Analyze;

/// <summary>
/// Gateways and the routes attached to them: MSH0002 for a gateway no route is attached to (an Istio Gateway no
/// VirtualService names, a Gateway API Gateway no HTTPRoute/GRPCRoute/TLSRoute/TCPRoute has as parent), and IST0101 for
/// a route naming a gateway that does not exist.
/// </summary>
internal sealed class GatewayAnalyzer : IAnalyzer
{
    private static readonly HashSet<string> GatewayApiRoutes = new(StringComparer.Ordinal) { "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute" };

    public void Analyze(MeshIndex index, List<Diagnostic> findings)
    {
        var istioGateways = index.Resources.Where(r => r.Kind == "Gateway" && r.Group == "networking.istio.io").ToList();
        var apiGateways = index.Resources.Where(r => r.Kind == "Gateway" && r.Group == "gateway.networking.k8s.io").ToList();
        var referencedIstio = new HashSet<(string, string)>();
        var referencedApi = new HashSet<(string, string)>();

        foreach (var r in index.Resources)
        {
            if (r.Kind == "VirtualService")
            {
                var i = 0;
                foreach (var gateway in MeshIndex.Strings(r.Body, "spec", "gateways"))
                {
                    if (gateway != "mesh")
                    {
                        var slash = gateway.IndexOf('/', StringComparison.Ordinal);
                        var key = slash < 0 ? (r.Namespace, gateway) : (gateway[..slash], gateway[(slash + 1)..]);
                        referencedIstio.Add(key);
                        if (!istioGateways.Any(g => (g.Namespace, g.Name) == key))
                        {
                            findings.Add(NotFound(r, $"spec.gateways[{i}]", gateway));
                        }
                    }

                    i++;
                }
            }
            else if (GatewayApiRoutes.Contains(r.Kind) && r.Group == "gateway.networking.k8s.io")
            {
                var i = 0;
                foreach (var parent in Json.Items(r.Body, "spec", "parentRefs"))
                {
                    if ((Json.Str(parent, "kind") ?? "Gateway") == "Gateway" && Json.Str(parent, "name") is { } name)
                    {
                        var key = (Json.Str(parent, "namespace") ?? r.Namespace, name);
                        referencedApi.Add(key);
                        if (!apiGateways.Any(g => (g.Namespace, g.Name) == key))
                        {
                            findings.Add(NotFound(r, $"spec.parentRefs[{i}]", $"{key.Item1}/{name}"));
                        }
                    }

                    i++;
                }
            }
        }

        foreach (var g in istioGateways.Where(g => !referencedIstio.Contains((g.Namespace, g.Name))))
        {
            findings.Add(Unrouted(g, "no VirtualService names it in spec.gateways"));
        }

        foreach (var g in apiGateways.Where(g => !referencedApi.Contains((g.Namespace, g.Name))))
        {
            findings.Add(Unrouted(g, "no HTTPRoute, GRPCRoute, TLSRoute or TCPRoute has it in spec.parentRefs"));
        }
    }

    private static Diagnostic NotFound(AnalyzedResource r, string field, string gateway) =>
        new(DiagnosticLevel.Error, MessageCodes.ReferencedResourceNotFound.Code, MessageCodes.ReferencedResourceNotFound.Name, r.DisplayName, r.Origin, field, $"Referenced gateway not found: \"{gateway}\"");

    private static Diagnostic Unrouted(AnalyzedResource g, string why) =>
        new(DiagnosticLevel.Warning, MessageCodes.GatewayWithoutRoute.Code, MessageCodes.GatewayWithoutRoute.Name, g.DisplayName, g.Origin, null, $"The gateway routes nothing: {why}.");
}
