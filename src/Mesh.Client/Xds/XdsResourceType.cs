using Google.Protobuf.WellKnownTypes;

namespace Mesh.Client.Xds;

/// <summary>
/// How one xDS resource type is decoded and validated: the listener, route configuration, cluster and endpoint
/// types each have one instance, shared by every watch of that type.
/// </summary>
internal sealed class XdsResourceType
{
    /// <summary>The type URL, e.g. <see cref="Mesh.Xds.XdsTypeUrls.Listener"/>.</summary>
    public required string TypeUrl { get; init; }

    /// <summary>
    /// Whether every response carries every subscribed resource (true for listeners and clusters), so that a
    /// resource missing from a response has been deleted.
    /// </summary>
    public required bool AllResourcesRequiredInSotW { get; init; }

    /// <summary>
    /// Decodes and validates one resource. Must not throw (a throw is treated as a failure without a name), must
    /// be pure, and may run on any thread.
    /// </summary>
    public required Func<Any, XdsDecodeResult> Decode { get; init; }

    /// <inheritdoc />
    public override string ToString() => TypeUrl;
}

/// <summary>The outcome of decoding one resource: a named resource, or an error (with the name when it is known).</summary>
/// <param name="Name">The resource name; null when it could not be read.</param>
/// <param name="Resource">The decoded resource; null on failure.</param>
/// <param name="Error">Why the resource is invalid; null on success.</param>
internal readonly record struct XdsDecodeResult(string? Name, object? Resource, string? Error)
{
    /// <summary>Whether the resource is valid.</summary>
    public bool IsSuccess => Error is null && Resource is not null;

    /// <summary>A valid resource.</summary>
    /// <param name="name">The resource name.</param>
    /// <param name="resource">The decoded resource, handed to watchers as is.</param>
    /// <returns>The result.</returns>
    public static XdsDecodeResult Success(string name, object resource)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(resource);
        return new XdsDecodeResult(name, resource, null);
    }

    /// <summary>An invalid resource.</summary>
    /// <param name="name">The resource name when it could be read, so the error is pinned on that resource.</param>
    /// <param name="error">Why it is invalid; this goes to the server in the NACK and to watchers.</param>
    /// <returns>The result.</returns>
    public static XdsDecodeResult Failure(string? name, string error)
    {
        ArgumentException.ThrowIfNullOrEmpty(error);
        return new XdsDecodeResult(name, null, error);
    }
}
