using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace Mesh.Server.Security;

/// <summary>The TLS facts Kestrel and ASP.NET Core read from a connection whose TLS a middleware terminated: ALPN and the client certificate.</summary>
internal sealed class TerminatedTlsFeature(ReadOnlyMemory<byte> protocol, X509Certificate2? clientCertificate) : ITlsConnectionFeature, ITlsApplicationProtocolFeature
{
    /// <inheritdoc />
    public ReadOnlyMemory<byte> ApplicationProtocol { get; } = protocol;

    /// <inheritdoc />
    public X509Certificate2? ClientCertificate { get; set; } = clientCertificate;

    /// <inheritdoc />
    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);
}
