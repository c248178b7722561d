using System.Text.Json.Nodes;
using Mesh.ControlPlane.Security;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>TokenReviews through the Kubernetes source's client (the control plane's own ServiceAccount, which needs <c>create</c> on <c>tokenreviews</c>).</summary>
internal sealed class KubernetesTokenReview(KubernetesConfigSource source) : ITokenReview
{
    public Task<JsonObject> ReviewAsync(JsonObject tokenReview, CancellationToken cancellationToken) =>
        source.Api.SendForObjectAsync("apis/authentication.k8s.io/v1/tokenreviews", HttpMethod.Post, tokenReview, cancellationToken);
}
