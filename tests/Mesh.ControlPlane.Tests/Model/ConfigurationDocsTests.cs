using System.Reflection;
using System.Runtime.CompilerServices;
using Mesh.ControlPlane.Configuration;

namespace Mesh.ControlPlane.Tests.Model;

/// <summary>docs/configuration.md names every field of the Istio shapes Mesh binds, so the reference stays complete.</summary>
public class ConfigurationDocsTests
{
    private static readonly Type[] Shapes =
    [
        typeof(VirtualServiceSpec), typeof(HttpRoute), typeof(HttpMatchRequest), typeof(HttpRouteDestination), typeof(HttpRetry),
        typeof(HttpFaultInjection), typeof(HttpRedirect), typeof(HttpDirectResponse), typeof(HttpRewrite), typeof(HttpMirrorPolicy),
        typeof(CorsPolicySpec), typeof(HeadersSpec), typeof(HeaderOperationsSpec), typeof(DelegateSpec),
        typeof(DestinationRuleSpec), typeof(Subset), typeof(global::Mesh.ControlPlane.Configuration.TrafficPolicy), typeof(LoadBalancerSettings), typeof(ConsistentHashLb),
        typeof(HttpCookieSpec), typeof(LocalityLbSettingSpec), typeof(WarmupSpec), typeof(PortTrafficPolicy), typeof(HttpConnectionPool), typeof(global::Mesh.ControlPlane.Configuration.OutlierDetection),
        typeof(ClientTlsSettings), typeof(ServiceEntrySpec), typeof(ServiceEntryPort), typeof(WorkloadEntrySpec), typeof(SidecarSpec), typeof(EgressListenerSpec),
        typeof(GatewaySpec), typeof(GatewayServerSpec), typeof(GatewayPortSpec), typeof(ServerTlsSpec),
    ];

    [Fact]
    public void ConfigurationDoc_NamesEveryFieldOfEveryIstioShape()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "configuration.md"));

        var missing = new List<string>();
        foreach (var shape in Shapes)
        {
            foreach (var property in shape.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var name = char.ToLowerInvariant(property.Name[0]) + property.Name[1..];
                if (!doc.Contains(name, StringComparison.Ordinal))
                {
                    missing.Add($"{shape.Name}.{name}");
                }
            }
        }

        Assert.True(missing.Count == 0, "docs/configuration.md does not mention: " + string.Join(", ", missing));
    }

    private static string RepositoryRoot([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", "..", ".."));
}
