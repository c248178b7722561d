namespace Mesh.ControlPlane.Xds;

/// <summary>An xDS client went over one of the <see cref="XdsStreamLimits"/>; the message says which, naming no secret.</summary>
internal sealed class XdsStreamLimitException(string message) : Exception(message);
