namespace Mesh.Gateway;

/// <summary>Names the gateway uses on the wire and in configuration.</summary>
internal static class GatewayDefaults
{
    /// <summary>The named HttpClient whose handler chain (Mesh.Client's routing) carries every forwarded request.</summary>
    public const string HttpClientName = "Mesh.Gateway";

    /// <summary>
    /// The header the gateway sets on each request to the Gateway server port it arrived on, so that YARP's routes
    /// (one per port and virtual host) match on it; any value a client sends is replaced, and it is never forwarded.
    /// </summary>
    public const string ServerPortHeader = "x-mesh-gateway-server-port";

    /// <summary>Route metadata: the listener (<c>0.0.0.0_8080</c>) whose route configuration the route came from.</summary>
    public const string ListenerMetadata = "mesh.listener";

    /// <summary>Route metadata: the virtual host's name in that route configuration.</summary>
    public const string VirtualHostMetadata = "mesh.virtualHost";

    /// <summary>Route metadata: <c>true</c> when plaintext requests are redirected to https (httpsRedirect).</summary>
    public const string RequireTlsMetadata = "mesh.requireTls";
}
