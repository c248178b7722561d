using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.Security;

/// <summary>Kubernetes' TokenReview API: <c>POST authentication.k8s.io/v1 tokenreviews</c>, returning the review with its status.</summary>
internal interface ITokenReview
{
    Task<JsonObject> ReviewAsync(JsonObject tokenReview, CancellationToken cancellationToken);
}
