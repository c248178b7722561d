using Grpc.Core;
using Istio.V1.Auth;
using Mesh.Xds;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Security;

/// <summary>
/// Istio's <c>istio.v1.auth.IstioCertificateService/CreateCertificate</c>, served on the TLS port only. The caller
/// proves its identity with <c>authorization: Bearer &lt;token&gt;</c> (a join token, or a projected Kubernetes
/// ServiceAccount token checked with the TokenReview API), or, to renew, with a client certificate
/// this CA issued that is still valid; the CSR must ask for exactly that identity.
/// </summary>
internal sealed partial class CertificateSigningService(
    CertificateAuthority authority, ServiceAccountTokenValidator tokens, IssuanceRateLimiter limiter, ILogger<CertificateSigningService> logger)
    : IstioCertificateService.IstioCertificateServiceBase
{
    private const string BearerPrefix = "Bearer ";

    public override async Task<IstioCertificateResponse> CreateCertificate(IstioCertificateRequest request, ServerCallContext context)
    {
        var http = context.GetHttpContext();
        var peer = http.Connection.RemoteIpAddress?.ToString() ?? context.Peer;
        if (!http.Request.IsHttps)
        {
            Log.Refused(logger, peer, "(none)", "not over TLS");
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Certificates are signed only over TLS (the control plane's TLS port, 15012 by default)."));
        }

        var (identity, error) = await AuthenticateAsync(http, context.CancellationToken).ConfigureAwait(false);
        if (identity is null)
        {
            Log.Refused(logger, peer, "(none)", error);
            throw new RpcException(new Status(StatusCode.Unauthenticated, "The caller did not prove an identity: " + error + "."));
        }

        if (!limiter.TryAcquire(identity.ToString(), out var retryAfter, out var firstRefusal))
        {
            if (firstRefusal)
            {
                Log.Throttled(logger, peer, identity.ToString(), IssuanceRateLimiter.Burst, IssuanceRateLimiter.PerSecond);
            }

            throw new RpcException(new Status(StatusCode.ResourceExhausted, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"Too many certificate requests for {identity}; retry in {Math.Max(retryAfter.TotalSeconds, 0.1):0.#} s.")));
        }

        try
        {
            var chain = authority.Sign(request.Csr, identity, TimeSpan.FromSeconds(Math.Clamp(request.ValidityDuration, 0, (long)TimeSpan.MaxValue.TotalSeconds / 2)));
            var response = new IstioCertificateResponse();
            response.CertChain.AddRange(chain);
            return response;
        }
        catch (CertificateSigningException ex)
        {
            Log.Refused(logger, peer, identity.ToString(), ex.Message);
            throw new RpcException(new Status(ex.PermissionDenied ? StatusCode.PermissionDenied : StatusCode.InvalidArgument, "The CSR was refused: " + ex.Message + "."));
        }
    }

    private async Task<(SpiffeId? Identity, string Error)> AuthenticateAsync(HttpContext http, CancellationToken cancellationToken)
    {
        string? tokenError = null;
        var header = http.Request.Headers.Authorization.ToString();
        if (header.Length > 0)
        {
            if (header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase) && header.Length > BearerPrefix.Length)
            {
                var (fromToken, error) = await tokens.ValidateAsync(header[BearerPrefix.Length..].Trim(), cancellationToken).ConfigureAwait(false);
                if (fromToken is not null)
                {
                    return (fromToken, string.Empty);
                }

                tokenError = error;
            }
            else
            {
                tokenError = "the authorization header is not 'Bearer <token>'";
            }
        }

        // Renewal: a certificate this CA issued, still valid, proves its identity just as the token did.
        if (http.Connection.ClientCertificate is { } certificate)
        {
            if (authority.ValidatePeerCertificate(certificate, out var certificateError) is { } fromCertificate)
            {
                return (fromCertificate, string.Empty);
            }

            return (null, tokenError is null ? certificateError : tokenError + "; " + certificateError);
        }

        return (null, tokenError ?? "no 'authorization: Bearer <token>' header (a join token or a projected ServiceAccount token) and no client certificate");
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Refused a certificate request from {Peer} (identity {Identity}): {Reason}")]
        public static partial void Refused(ILogger logger, string peer, string identity, string reason);

        [LoggerMessage(2, LogLevel.Warning, "Throttling certificate requests for {Identity} (latest from {Peer}): more than {Burst} at once or {PerSecond} per second; further refusals are not logged until one succeeds.")]
        public static partial void Throttled(ILogger logger, string peer, string identity, int burst, double perSecond);
    }
}
