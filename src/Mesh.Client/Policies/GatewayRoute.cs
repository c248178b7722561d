namespace Mesh.Client.Policies;

/// <summary>A gateway's route target: a virtual host, by name, of the route configuration of a listener.</summary>
/// <param name="Listener">The gateway listener (<c>0.0.0.0_8080</c>).</param>
/// <param name="VirtualHost">The virtual host's name in its route configuration (<c>bookinfo.example.com:8080</c>).</param>
internal sealed record GatewayRoute(string Listener, string VirtualHost);
