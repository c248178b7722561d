namespace Mesh.Testing.Sidecar;

/// <summary>How a simulated call ended.</summary>
public enum SimulationOutcome
{
    /// <summary>It reached a cluster.</summary>
    Routed,

    /// <summary>No listener takes the destination.</summary>
    NoListener,

    /// <summary>The listener has no filter chain for the connection: Envoy closes it.</summary>
    NoFilterChain,

    /// <summary>More than one chain matches equally (a configuration error).</summary>
    MultipleFilterChains,

    /// <summary>The chain terminates mTLS and the client sent no certificate.</summary>
    MtlsRequired,

    /// <summary>The chain runs HTTP in plaintext but the client speaks TLS.</summary>
    TlsMismatch,

    /// <summary>No virtual host matches the Host header.</summary>
    NoVirtualHost,

    /// <summary>No route of the virtual host matches.</summary>
    NoRoute,

    /// <summary>The route answers directly.</summary>
    DirectResponse,

    /// <summary>The route or TCP proxy names a cluster that is not served.</summary>
    UnknownCluster,
}
