namespace Mesh.ControlPlane.GatewayApi;

/// <summary>One listener of a Gateway as the conversion judged it: its conditions, and the Istio Gateway generated for it.</summary>
internal sealed class ListenerState
{
    public required int Index { get; init; }

    public required string Name { get; init; }

    public required int Port { get; init; }

    public required string Protocol { get; init; }

    /// <summary>The listener's hostname, or null for every host.</summary>
    public string? Hostname { get; init; }

    /// <summary>Why the listener is not accepted (reason, message), or null when it is.</summary>
    public (string Reason, string Message)? NotAccepted { get; set; }

    /// <summary>Why a reference of the listener does not resolve (reason, message), or null when all do.</summary>
    public (string Reason, string Message)? Unresolved { get; set; }

    /// <summary>Whether the unresolved reference is the certificate, which keeps the listener from being served.</summary>
    public bool CertificateUnresolved { get; set; }

    /// <summary>Why the listener conflicts with another (reason, message), or null when it does not.</summary>
    public (string Reason, string Message)? Conflict { get; set; }

    /// <summary>The route kinds the listener accepts (HTTPRoute, GRPCRoute, or those of allowedRoutes.kinds Mesh serves).</summary>
    public List<string> Kinds { get; } = [];

    /// <summary>Where routes may come from: Same, All, or Selector.</summary>
    public string From { get; set; } = "Same";

    /// <summary>The TLS Secret's name for an HTTPS listener (in the Gateway's namespace).</summary>
    public string? CredentialName { get; set; }

    /// <summary>How many routes attached.</summary>
    public int AttachedRoutes { get; set; }

    /// <summary>The name of the Istio Gateway generated for the listener.</summary>
    public required string IstioGateway { get; init; }

    /// <summary>Whether the listener is served: accepted, not conflicted, its certificate resolved.</summary>
    public bool Ready => NotAccepted is null && Conflict is null && !CertificateUnresolved;
}
