using Grpc.Core;
using Mesh.Server.Tests.Reviews;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Server.Tests.EndToEnd;

/// <summary>AuthorizationPolicy end to end: YAML in, RBAC enforced by Mesh.Server on real connections.</summary>
public class AuthorizationTests
{
    private const string OnlyProductpage = """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: reviews-viewer, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          action: ALLOW
          rules:
          - from:
            - source: {principals: [cluster.local/ns/default/sa/productpage]}
            to:
            - operation: {paths: [/reviews.Reviews/*]}
        """;

    private static async Task<(SecureMesh Mesh, int Port)> StartAsync(params string[] policies)
    {
        var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews");
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", string.Join("\n---\n", [SecureMesh.ReviewsEntry(port), SecureMesh.PeerAuthentication("STRICT"), .. policies]));
        return (mesh, port);
    }

    [Fact]
    public async Task AllowOnlyProductpage_ProductpageGetsOk_OtherIdentityAndOtherPathDenied()
    {
        var (mesh, _) = await StartAsync(OnlyProductpage);
        await using var _ = mesh;

        var productpage = mesh.Client("productpage");
        var (reply, error) = await SecureMesh.CallAsync(productpage.GetRequiredService<Reviews.Reviews.ReviewsClient>());
        Assert.True(error is null, error?.Status.ToString());
        Assert.Equal("reviews", reply!.Server);

        // Another identity: authenticated fine, but not allowed.
        var ratings = mesh.Client("ratings").GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var denied = await SecureMesh.WaitForStatusAsync(() => ratings.GetReviewsAsync(new ReviewsRequest()).ResponseAsync, StatusCode.PermissionDenied);
        Assert.Equal("RBAC: access denied", denied!.Status.Detail);

        // productpage on a path the policy does not list.
        var admin = productpage.GetRequiredService<Admin.AdminClient>();
        await SecureMesh.WaitForStatusAsync(() => admin.PingAsync(new ReviewsRequest()).ResponseAsync, StatusCode.PermissionDenied);

        Assert.Contains(mesh.ServerLogs.MessagesAtLeast(Microsoft.Extensions.Logging.LogLevel.Warning), m =>
            m.Contains("/reviews.Reviews/GetReviews", StringComparison.Ordinal) && m.Contains("spiffe://cluster.local/ns/default/sa/ratings", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DenyRule_WinsOverAllow_AndPolicyChangesApplyWithoutRestart()
    {
        var (mesh, _) = await StartAsync(OnlyProductpage);
        await using var _ = mesh;
        var client = mesh.Client("productpage").GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (_, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());

        const string DenyProductpage = """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: deny-productpage, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              action: DENY
              rules:
              - from:
                - source: {principals: [cluster.local/ns/default/sa/productpage]}
            """;
        await mesh.ControlPlane.WriteFileAsync("deny.yaml", DenyProductpage);
        await SecureMesh.WaitForStatusAsync(() => client.GetReviewsAsync(new ReviewsRequest()).ResponseAsync, StatusCode.PermissionDenied);

        mesh.ControlPlane.DeleteFile("deny.yaml");
        await SecureMesh.WaitForStatusAsync(() => client.GetReviewsAsync(new ReviewsRequest()).ResponseAsync, StatusCode.OK);
    }

    [Fact]
    public async Task BadPolicyYaml_NamedInError_LastGoodPolicyStaysEnforced()
    {
        var (mesh, _) = await StartAsync(OnlyProductpage);
        await using var _ = mesh;
        var ratings = mesh.Client("ratings").GetRequiredService<Reviews.Reviews.ReviewsClient>();
        await SecureMesh.WaitForStatusAsync(() => ratings.GetReviewsAsync(new ReviewsRequest()).ResponseAsync, StatusCode.PermissionDenied);

        // A broken edit that, if it were applied, would let everyone in (no ALLOW rule left).
        await mesh.ControlPlane.WriteFileAsync("reviews-policy-bad.yaml", """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: reviews-viewer, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              action: ALOW
            """);
        var configz = await WaitForErrorAsync(mesh);
        Assert.Contains("AuthorizationPolicy default/reviews-viewer", configz, StringComparison.Ordinal);
        Assert.Contains("action", configz, StringComparison.Ordinal);

        // Still denied: the control plane kept its last good snapshot, so the server kept its policy.
        for (var i = 0; i < 5; i++)
        {
            var denied = await Assert.ThrowsAsync<RpcException>(() => ratings.GetReviewsAsync(new ReviewsRequest()).ResponseAsync);
            Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
            await Task.Delay(100);
        }
    }

    private static async Task<string> WaitForErrorAsync(SecureMesh mesh)
    {
        for (var i = 0; i < 100; i++)
        {
            var configz = (await mesh.ControlPlane.GetJsonAsync("/debug/configz")).ToJsonString();
            if (configz.Contains("reviews-policy-bad.yaml", StringComparison.Ordinal))
            {
                return configz;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the control plane did not report the bad policy");
    }
}
