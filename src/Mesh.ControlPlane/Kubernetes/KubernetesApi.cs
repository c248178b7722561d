using System.Text.Json.Nodes;
using k8s;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>
/// KubernetesClient's client (its configuration loading, credentials, TLS and HTTP pipeline) with raw JSON requests
/// for any kind: the informers read objects as JSON, because the model reads them as JSON, and custom resources have
/// no generated types.
/// </summary>
internal sealed class KubernetesApi : k8s.Kubernetes
{
    public KubernetesApi(KubernetesClientConfiguration configuration)
        : base(configuration)
    {
    }

    /// <summary>Sends a request; non-success statuses throw <see cref="k8s.Autorest.HttpOperationException"/>.</summary>
    public Task<HttpResponseMessage> SendAsync(string relativeUri, HttpMethod method, JsonNode? body, CancellationToken cancellationToken) =>
        SendRequest(relativeUri, method, null, body, cancellationToken);

    /// <summary>Sends a JSON merge patch.</summary>
    public Task<HttpResponseMessage> MergePatchAsync(string relativeUri, JsonNode patch, CancellationToken cancellationToken) =>
        SendRequest(relativeUri, HttpMethod.Patch, null, new k8s.Models.V1Patch(patch.ToJsonString(), k8s.Models.V1Patch.PatchType.MergePatch), cancellationToken);

    /// <summary>Sends a request and reads the JSON object it answers with.</summary>
    public async Task<JsonObject> SendForObjectAsync(string relativeUri, HttpMethod method, JsonNode? body, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(relativeUri, method, body, cancellationToken).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return await JsonNode.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false) as JsonObject
            ?? throw new System.Text.Json.JsonException($"{relativeUri} answered with something that is not a JSON object");
    }
}
