namespace Mesh.Testing.Sidecar;

/// <summary>Where a simulated call went: names of everything matched, the outcome, and the upstream.</summary>
public sealed record SimulationResult
{
    /// <summary>How it ended.</summary>
    public required SimulationOutcome Outcome { get; init; }

    /// <summary>The listener that handled it.</summary>
    public string? Listener { get; init; }

    /// <summary>The filter chain selected.</summary>
    public string? FilterChain { get; init; }

    /// <summary>Whether the chain terminated mTLS.</summary>
    public bool TerminatedMtls { get; init; }

    /// <summary>The HTTP filters the chain runs, in order (RBAC among them).</summary>
    public IReadOnlyList<string> HttpFilters { get; init; } = [];

    /// <summary>The route configuration used.</summary>
    public string? RouteConfiguration { get; init; }

    /// <summary>The virtual host matched.</summary>
    public string? VirtualHost { get; init; }

    /// <summary>The route matched.</summary>
    public string? Route { get; init; }

    /// <summary>The cluster (the first by weight for a split).</summary>
    public string? Cluster { get; init; }

    /// <summary>Every cluster of a weighted split with its weight; one entry otherwise.</summary>
    public IReadOnlyList<(string Cluster, uint Weight)> Clusters { get; init; } = [];

    /// <summary>The endpoints of the cluster's load assignment (ip:port).</summary>
    public IReadOnlyList<string> Endpoints { get; init; } = [];

    /// <summary>The SNI Envoy sends to the first endpoint; null when it connects in plaintext.</summary>
    public string? UpstreamSni { get; init; }

    /// <summary>The direct response status, for <see cref="SimulationOutcome.DirectResponse"/>.</summary>
    public uint? DirectResponseStatus { get; init; }

    /// <summary>Whether the route carries a fault injection config.</summary>
    public bool Fault { get; init; }
}
