namespace Mesh.ControlPlane.Model;

/// <summary>The header changes of a route or a destination: on the request sent and on the response returned.</summary>
/// <param name="Request">Changes to the request.</param>
/// <param name="Response">Changes to the response.</param>
public sealed record HeaderManipulation(HeaderOperations Request, HeaderOperations Response);
