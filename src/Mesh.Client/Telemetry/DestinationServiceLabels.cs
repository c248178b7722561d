namespace Mesh.Client.Telemetry;

/// <summary>
/// The three destination-service labels of a request (<c>destination_service</c>, <c>_name</c>, <c>_namespace</c>),
/// computed once per cluster or authority and reused by every call to it.
/// </summary>
/// <param name="Service">The service's host name (<c>reviews.default.svc.cluster.local</c>).</param>
/// <param name="Name">Its first label (<c>reviews</c>).</param>
/// <param name="Namespace">Its second label, or the caller's namespace for a single-label host.</param>
internal sealed record DestinationServiceLabels(string Service, string Name, string Namespace)
{
    /// <summary>
    /// The name of a client span to the service (<c>reviews.default.svc.cluster.local/*</c>, as Envoy names it), when
    /// the labels are kept for many calls (<see cref="WithSpanName"/>); null otherwise.
    /// </summary>
    public string? SpanName { get; private init; }

    /// <summary>Nothing is known about the destination.</summary>
    public static DestinationServiceLabels Unknown { get; } = new DestinationServiceLabels(IstioLabels.Unknown, IstioLabels.Unknown, IstioLabels.Unknown).WithSpanName();

    /// <summary>These labels with their <see cref="SpanName"/> built, for labels reused by every call to the service.</summary>
    public DestinationServiceLabels WithSpanName() => this with { SpanName = Service + "/*" };

    /// <summary>The labels for <paramref name="host"/> (Istio's rule: the name is the first label, the namespace the second).</summary>
    public static DestinationServiceLabels ForHost(string host, string defaultNamespace)
    {
        var dot = host.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return new(host, host, defaultNamespace);
        }

        var rest = host.AsSpan(dot + 1);
        var next = rest.IndexOf('.');
        return new(host, host[..dot], (next < 0 ? rest : rest[..next]).ToString());
    }
}
