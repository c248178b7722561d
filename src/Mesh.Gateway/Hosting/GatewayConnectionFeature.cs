namespace Mesh.Gateway.Hosting;

/// <summary>What the gateway knows about a connection: the Gateway server port it came in on and whether it is TLS.</summary>
/// <param name="ServerPort">The server port, as the value of <see cref="GatewayDefaults.ServerPortHeader"/>.</param>
/// <param name="IsTls">Whether the gateway terminated TLS on the connection.</param>
internal sealed record GatewayConnectionFeature(string ServerPort, bool IsTls);
