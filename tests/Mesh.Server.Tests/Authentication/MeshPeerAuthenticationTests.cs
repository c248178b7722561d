using System.Net;
using System.Security.Claims;
using Mesh.Server.Tests.EndToEnd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Server.Tests.Authentication;

/// <summary>
/// The mesh peer identity as an ASP.NET Core authentication scheme (<c>AddMeshPeer()</c>), end to end over mutual TLS:
/// <c>UseAuthentication()</c> authenticates the caller as its SPIFFE ID, and <c>[Authorize]</c> policies on its claims
/// admit one workload, forbid another, and challenge a plaintext caller.
/// </summary>
public sealed class MeshPeerAuthenticationTests
{
    private const string Mutual = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec:
          host: reviews
          trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
        """;

    private static async Task<HttpResponseMessage> GetUntilAsync(HttpClient client, Uri uri, Func<HttpStatusCode, bool> done)
    {
        HttpResponseMessage? response = null;
        for (var i = 0; i < 100; i++)
        {
            response?.Dispose();
            response = await client.GetAsync(uri);
            if (done(response.StatusCode))
            {
                break;
            }

            await Task.Delay(100);
        }

        return response!;
    }

    [Fact]
    public async Task AddMeshPeer_AuthorizePolicyOnServiceAccount_AdmitsOneWorkload_ForbidsAnother_ChallengesPlaintext()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync(
            "reviews",
            "reviews",
            protocols: Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1AndHttp2,
            configure: builder =>
            {
                builder.Services.AddAuthentication(MeshServerDefaults.AuthenticationScheme).AddMeshPeer();
                builder.Services.AddAuthorization(o => o.AddPolicy("productpage-only", p => p
                    .AddAuthenticationSchemes(MeshServerDefaults.AuthenticationScheme)
                    .RequireClaim(MeshServerDefaults.ServiceAccountClaimType, "productpage")));
            },
            map: app =>
            {
                app.UseAuthentication();
                app.UseAuthorization();
                app.MapGet("/authenticated", (ClaimsPrincipal user) => user.Identity!.AuthenticationType + " " + user.FindFirstValue(MeshServerDefaults.SpiffeIdClaimType))
                    .RequireAuthorization();
                app.MapGet("/productpage-only", (ClaimsPrincipal user) => user.FindFirstValue(ClaimTypes.NameIdentifier)).RequireAuthorization("productpage-only");
            });
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", string.Join("\n---\n", SecureMesh.ReviewsEntry(port), SecureMesh.PeerAuthentication("PERMISSIVE"), Mutual));
        var productpage = mesh.Client("productpage").GetRequiredService<IHttpClientFactory>().CreateClient("reviews");
        var ratings = mesh.Client("ratings").GetRequiredService<IHttpClientFactory>().CreateClient("reviews");
        using var plaintext = new HttpClient();

        using var admitted = await GetUntilAsync(productpage, new Uri("http://reviews:9080/productpage-only"), s => s == HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.Equal("spiffe://cluster.local/ns/default/sa/productpage", await admitted.Content.ReadAsStringAsync());

        using var authenticated = await GetUntilAsync(ratings, new Uri("http://reviews:9080/authenticated"), s => s == HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, authenticated.StatusCode);
        Assert.Equal($"{MeshServerDefaults.AuthenticationScheme} spiffe://cluster.local/ns/default/sa/ratings", await authenticated.Content.ReadAsStringAsync());

        using var forbidden = await ratings.GetAsync(new Uri("http://reviews:9080/productpage-only"));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        using var challenged = await plaintext.GetAsync(new Uri($"http://127.0.0.1:{port}/authenticated"));
        Assert.Equal(HttpStatusCode.Unauthorized, challenged.StatusCode);
        using var plaintextForbidden = await plaintext.GetAsync(new Uri($"http://127.0.0.1:{port}/productpage-only"));
        Assert.Equal(HttpStatusCode.Unauthorized, plaintextForbidden.StatusCode);
    }
}
