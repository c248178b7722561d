using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// One configuration object as a source read it: a Kubernetes-style resource
/// (<c>apiVersion</c>, <c>kind</c>, <c>metadata</c>, <c>spec</c>) in JSON form, with where it came from.
/// </summary>
/// <param name="ApiVersion">The resource's <c>apiVersion</c>, for example <c>networking.istio.io/v1</c>.</param>
/// <param name="Kind">The resource's <c>kind</c>, for example <c>VirtualService</c>.</param>
/// <param name="Namespace">The namespace; a source fills in its default when the resource names none.</param>
/// <param name="Name">The resource's <c>metadata.name</c>.</param>
/// <param name="Origin">Where the resource came from, for messages: a file and line, or an API path.</param>
/// <param name="Body">The whole resource as JSON.</param>
public sealed record ConfigResource(
    string ApiVersion,
    string Kind,
    string Namespace,
    string Name,
    string Origin,
    JsonObject Body)
{
    /// <summary>The resource's <c>kind namespace/name</c>, as messages name it.</summary>
    public string DisplayName => $"{Kind} {Namespace}/{Name}";
}

/// <summary>What a source holds at one moment: its resources and the problems it met reading them.</summary>
/// <param name="Resources">Every resource the source could read.</param>
/// <param name="Errors">Every problem met while reading (malformed files, missing fields).</param>
public sealed record ConfigSet(IReadOnlyList<ConfigResource> Resources, IReadOnlyList<ConfigError> Errors)
{
    /// <summary>A set with nothing in it.</summary>
    public static ConfigSet Empty { get; } = new([], []);
}
