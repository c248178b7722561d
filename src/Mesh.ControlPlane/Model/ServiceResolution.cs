namespace Mesh.ControlPlane.Model;

/// <summary>How a service's endpoint addresses become IP addresses (ServiceEntry <c>resolution</c>).</summary>
public enum ServiceResolution
{
    /// <summary>The endpoints are IP addresses (every Kubernetes Service, ServiceEntry <c>STATIC</c>): served over EDS.</summary>
    Static,

    /// <summary>
    /// ServiceEntry <c>DNS</c>: each endpoint address (or, without endpoints, each host) is a name the client resolves,
    /// using every address it gets. Served as a <c>LOGICAL_DNS</c> cluster when one name serves the cluster (what gRPC
    /// clients follow, gRFC A37), else as <c>STRICT_DNS</c>.
    /// </summary>
    Dns,

    /// <summary>ServiceEntry <c>DNS_ROUND_ROBIN</c>: one name (at most one endpoint), served as a <c>LOGICAL_DNS</c> cluster.</summary>
    DnsRoundRobin,

    /// <summary>
    /// ServiceEntry <c>NONE</c>: passthrough. Endpoints, when listed, are IP addresses served over EDS; without them the
    /// client reaches the host it was asked for by resolving that name itself, as it would with no mesh (a
    /// <c>LOGICAL_DNS</c> cluster of the host), since a proxyless client has no original destination to pass through to.
    /// </summary>
    None,
}
