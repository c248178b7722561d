using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Mesh.ControlPlane.Security;
using Mesh.Xds;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.ControlPlane.Xds;

/// <summary>
/// The ADS gRPC service: each stream becomes a <see cref="SotwConnection"/> or a <see cref="DeltaConnection"/>. On the
/// TLS port the client's identity is taken from its mesh client certificate or a join token; identity-scoped
/// resources are served only for that identity (or, in the development mode
/// <see cref="ControlPlaneOptions.InsecureIdentityFromMetadata"/>, for whatever the node claims).
/// </summary>
internal sealed partial class AggregatedDiscoveryServiceImpl : AggregatedDiscoveryService.AggregatedDiscoveryServiceBase
{
    private const string BearerPrefix = "Bearer ";

    private readonly XdsResourceCache _cache;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationToken _stopping;
    private readonly IServiceProvider _services;
    private readonly bool _trustMetadata;

    public AggregatedDiscoveryServiceImpl(
        XdsResourceCache cache, TimeProvider time, IHostApplicationLifetime lifetime, IServiceProvider services, IOptions<ControlPlaneOptions> options,
        ILogger<AggregatedDiscoveryServiceImpl> logger)
    {
        _cache = cache;
        _time = time;
        _logger = logger;
        _services = services;
        _trustMetadata = options.Value.InsecureIdentityFromMetadata;
        _stopping = lifetime.ApplicationStopping;
    }

    public override async Task StreamAggregatedResources(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context)
    {
        var identity = await AuthenticateAsync(context).ConfigureAwait(false);
        await Run(token => new SotwConnection(_cache, responseStream, _time, _logger, context.Peer)
        {
            AuthenticatedIdentity = identity,
            TrustMetadataIdentity = _trustMetadata,
            Abort = AbortOf(context),
        }.RunAsync(requestStream, token), context).ConfigureAwait(false);
    }

    public override async Task DeltaAggregatedResources(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context)
    {
        var identity = await AuthenticateAsync(context).ConfigureAwait(false);
        await Run(token => new DeltaConnection(_cache, responseStream, _time, _logger, context.Peer)
        {
            AuthenticatedIdentity = identity,
            TrustMetadataIdentity = _trustMetadata,
            Abort = AbortOf(context),
        }.RunAsync(requestStream, token), context).ConfigureAwait(false);
    }

    private static Action AbortOf(ServerCallContext context)
    {
        var http = context.GetHttpContext();
        return http.Abort;
    }

    /// <summary>The identity the client proved: over TLS only, its mesh client certificate, else a bearer token (join or ServiceAccount token).</summary>
    private async Task<SpiffeId?> AuthenticateAsync(ServerCallContext context)
    {
        var http = context.GetHttpContext();
        if (!http.Request.IsHttps)
        {
            return null;
        }

        var authority = _services.GetRequiredService<CertificateAuthority>();
        string? error = null;
        if (http.Connection.ClientCertificate is { } certificate)
        {
            if (authority.ValidatePeerCertificate(certificate, out error) is { } fromCertificate)
            {
                return fromCertificate;
            }
        }

        var header = http.Request.Headers.Authorization.ToString();
        if (header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase) && header.Length > BearerPrefix.Length)
        {
            var tokens = _services.GetRequiredService<ServiceAccountTokenValidator>();
            var (fromToken, tokenError) = await tokens.ValidateAsync(header[BearerPrefix.Length..].Trim(), context.CancellationToken).ConfigureAwait(false);
            if (fromToken is not null)
            {
                return fromToken;
            }

            error = error is null ? tokenError : error + "; " + tokenError;
        }

        if (error is not null)
        {
            Log.NotAuthenticated(_logger, http.Connection.RemoteIpAddress?.ToString() ?? context.Peer, error);
        }

        return null;
    }

    // A stream ends when the client goes away or the control plane shuts down; on shutdown clients see the stream
    // end at once (UNAVAILABLE, set as the call's status rather than thrown, so nothing logs a stack trace) and
    // reconnect, rather than the host waiting for them. A client that goes away (cancel, reset, connection lost) is a
    // normal end: the method returns normally, so Grpc.AspNetCore logs nothing at error level; the connection logged
    // the end at information.
    private async Task Run(Func<CancellationToken, Task> stream, ServerCallContext context)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _stopping);
        try
        {
            await stream(linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStreamGone(ex) && _stopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            context.Status = new Status(StatusCode.Unavailable, "the control plane is shutting down");
        }
        catch (Exception ex) when (IsStreamGone(ex) && (context.CancellationToken.IsCancellationRequested || ex is IOException))
        {
            // The client went away (it cancelled or reset the stream, or its connection was lost).
            Log.StreamGone(_logger, context.Peer, ex.GetType().Name);
        }
    }

    /// <summary>What a stream whose client went away, or that the host cancelled, ends with.</summary>
    private static bool IsStreamGone(Exception ex) =>
        ex is OperationCanceledException or IOException
        || (ex is InvalidOperationException && ex.Message.Contains("request is complete", StringComparison.Ordinal));

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "An xDS client at {Peer} presented credentials that do not prove an identity ({Error}); it is served as unauthenticated.")]
        public static partial void NotAuthenticated(ILogger logger, string peer, string error);

        [LoggerMessage(2, LogLevel.Debug, "The ADS stream from {Peer} ended because its client went away ({Exception}).")]
        public static partial void StreamGone(ILogger logger, string peer, string exception);
    }
}
