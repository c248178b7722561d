using System.Text.Json.Nodes;
using Mesh.Cli.Tests.Support;

namespace Mesh.Cli.Tests.Analyze;

/// <summary>mesh analyze: no false positives on Bookinfo, and each planted problem found with its code and a failing exit.</summary>
public sealed class AnalyzeTests
{
    public static TheoryData<string> Scenarios => new(Directory.GetFiles(Repository.PathOf("samples/bookinfo/scenarios"), "*.yaml").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Analyze_BookinfoWithEachScenario_FindsNothing(string scenario)
    {
        using var directory = new ConfigDirectory(new Dictionary<string, string>
        {
            ["scenario.yaml"] = File.ReadAllText(Repository.PathOf($"samples/bookinfo/scenarios/{scenario}.yaml")),
        });

        var result = await MeshTool.RunAsync(["analyze", directory.Path]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith($"No validation issues found when analyzing {directory.Path}", result.Out, StringComparison.Ordinal);
    }

    /// <summary>
    /// The Istio drop-in test set (Istio's Bookinfo networking files in our own words, with a Telemetry and a
    /// Sidecar, from the control plane's tests): each VirtualService file with each DestinationRule set.
    /// </summary>
    public static TheoryData<string, string> IstioDropInSet()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Directory.GetFiles(Repository.PathOf("tests/Mesh.ControlPlane.Tests/Model/testassets/bookinfo"), "virtual-service-*.yaml").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file), "destination-rule-all.yaml");
            data.Add(Path.GetFileName(file), "destination-rule-all-mtls.yaml");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(IstioDropInSet))]
    public async Task Analyze_IstioDropInSet_FindsNothing(string virtualServices, string destinationRules)
    {
        var assets = Repository.PathOf("tests/Mesh.ControlPlane.Tests/Model/testassets/bookinfo");
        var files = new[] { "services.yaml", "bookinfo-gateway.yaml", "telemetry.yaml", "sidecar.yaml", destinationRules, virtualServices }
            .ToDictionary(f => f, f => File.ReadAllText(Path.Combine(assets, f)));
        using var directory = new ConfigDirectory(files, bookinfo: false);

        var result = await MeshTool.RunAsync(["analyze", directory.Path]);

        // Only Info lines (the Telemetry's fields Mesh does not act on are loaded but not applied; the Gateway and its
        // VirtualService are served to gateway workloads): no Warning and no Error, exit 0.
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.All(result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.StartsWith("Info [IST0133]", line, StringComparison.Ordinal));
        Assert.DoesNotContain("(Gateway default/bookinfo-gateway", result.Out, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> Planted => new()
    {
        {
            "vs-unknown-subset",
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews, subset: v9}
            """,
            "Error [IST0101] (VirtualService default/reviews planted.yaml:1) spec.http[0].route[0].destination.subset: Referenced host+subset in destinationrule not found: \"reviews+v9\""
        },
        {
            "vs-unknown-host",
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews, subset: v1}
                  weight: 50
                - destination: {host: reveiws}
                  weight: 50
            """,
            "Error [IST0101] (VirtualService default/reviews planted.yaml:1) spec.http[0].route[1].destination.host: Referenced host not found: \"reveiws\""
        },
        {
            "dr-unknown-host",
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: payments}
            spec:
              host: payments
              subsets:
              - {name: v1, labels: {version: v1}}
            """,
            "Error [IST0101] (DestinationRule default/payments planted.yaml:1) spec.host: Referenced host not found: \"payments\""
        },
        {
            "conflicting-peer-authentications",
            """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: strict, namespace: default}
            spec:
              mtls: {mode: STRICT}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: permissive, namespace: default}
            spec:
              mtls: {mode: PERMISSIVE}
            """,
            "Error [MSH0001] (PeerAuthentication default/permissive planted.yaml:7) The PeerAuthentications [permissive strict] in namespace \"default\" have no workload selector, so which one applies is undefined. Merge them into one."
        },
        {
            "conflicting-peer-authentication-selectors",
            """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: reviews-strict, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              mtls: {mode: STRICT}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: reviews-v2-off, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews, version: v2}}
              mtls: {mode: DISABLE}
            """,
            "Error [MSH0001] (PeerAuthentication default/reviews-strict planted.yaml:1) The PeerAuthentications [reviews-strict reviews-v2-off] in namespace \"default\" both select the workload labelled app=reviews,version=v2 with different modes (STRICT, DISABLE), so which one applies is undefined."
        },
        {
            "authorization-policy-selects-nothing",
            """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: reviewz-only, namespace: default}
            spec:
              selector: {matchLabels: {app: reviewz}}
              action: ALLOW
              rules:
              - from:
                - source: {principals: [cluster.local/ns/default/sa/productpage]}
            """,
            "Warning [IST0127] (AuthorizationPolicy default/reviewz-only planted.yaml:1) spec.selector.matchLabels: No matching workloads for this resource with the following labels: app=reviewz"
        },
        {
            "istio-gateway-without-route",
            """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: bookinfo-gateway}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["*"]
            """,
            "Warning [MSH0002] (Gateway default/bookinfo-gateway planted.yaml:1) The gateway routes nothing: no VirtualService names it in spec.gateways."
        },
        {
            "gateway-api-gateway-without-route",
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: bookinfo}
            spec:
              gatewayClassName: mesh
              listeners:
              - {name: http, port: 80, protocol: HTTP}
            """,
            "Warning [MSH0002] (Gateway default/bookinfo planted.yaml:1) The gateway routes nothing: no HTTPRoute, GRPCRoute, TLSRoute or TCPRoute has it in spec.parentRefs."
        },
        {
            "vs-unknown-gateway",
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: productpage}
            spec:
              hosts: [productpage]
              gateways: [bookinfo-gateway]
              http:
              - route:
                - destination: {host: productpage}
            """,
            "Error [IST0101] (VirtualService default/productpage planted.yaml:1) spec.gateways[0]: Referenced gateway not found: \"bookinfo-gateway\""
        },
        {
            "schema-error",
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ratings}
            spec:
              hosts: [ratings]
              http:
              - timeout: soon
                route:
                - destination: {host: ratings}
            """,
            "Error [IST0106] (VirtualService default/ratings planted.yaml:1) spec.http[0].timeout:"
        },
    };

    [Theory]
    [MemberData(nameof(Planted))]
    public async Task Analyze_PlantedProblem_ReportsItsCodeAndFails(string name, string yaml, string expected)
    {
        using var directory = new ConfigDirectory(new Dictionary<string, string> { ["planted.yaml"] = yaml });

        var result = await MeshTool.RunAsync(["analyze", directory.Path]);

        Assert.True(result.ExitCode == 79, $"{name}: {result}");
        var lines = result.Out.Replace(directory.Path + Path.DirectorySeparatorChar, string.Empty, StringComparison.Ordinal).Split('\n');
        Assert.True(lines.Any(l => l.StartsWith(expected, StringComparison.Ordinal)), $"{name}: expected a line starting with\n{expected}\n{result}");
    }

    [Fact]
    public async Task Analyze_JsonOutput_CarriesCodeResourceOriginAndField()
    {
        using var directory = new ConfigDirectory(new Dictionary<string, string>
        {
            ["bad.yaml"] = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v9}\n",
        });

        var result = await MeshTool.RunAsync(["analyze", directory.Path, "-o", "json"]);

        Assert.Equal(79, result.ExitCode);
        var finding = Assert.Single((JsonArray)JsonNode.Parse(result.Out)!)!;
        Assert.Equal("Error", (string?)finding["level"]);
        Assert.Equal("IST0101", (string?)finding["code"]);
        Assert.Equal("ReferencedResourceNotFound", (string?)finding["name"]);
        Assert.Equal("VirtualService default/reviews", (string?)finding["resource"]);
        Assert.Equal("bad.yaml:1", (string?)finding["origin"]);
        Assert.Equal("spec.http[0].route[0].destination.subset", (string?)finding["field"]);
    }

    [Fact]
    public async Task Analyze_WarningsBelowTheFailureThreshold_ExitZeroButArePrinted()
    {
        using var directory = new ConfigDirectory(new Dictionary<string, string>
        {
            ["ap.yaml"] = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: nobody}\nspec:\n  selector: {matchLabels: {app: nobody}}\n",
        });

        var strict = await MeshTool.RunAsync(["analyze", directory.Path]);
        var lenient = await MeshTool.RunAsync(["analyze", directory.Path, "--failure-threshold", "Error"]);
        var quiet = await MeshTool.RunAsync(["analyze", directory.Path, "--failure-threshold", "Error", "--output-threshold", "Error"]);

        Assert.Equal(79, strict.ExitCode);
        Assert.Equal(0, lenient.ExitCode);
        Assert.Contains("Warning [IST0127]", lenient.Out, StringComparison.Ordinal);
        Assert.Equal(0, quiet.ExitCode);
        Assert.StartsWith("No validation issues found", quiet.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Analyze_MissingDirectory_IsAUsageError()
    {
        var result = await MeshTool.RunAsync(["analyze", "/no/such/mesh/config"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("the directory '/no/such/mesh/config' does not exist", result.Error, StringComparison.Ordinal);
    }
}
