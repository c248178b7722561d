using System.Diagnostics;
using Mesh.Client.Telemetry;
using Mesh.Server.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace Mesh.Server.Telemetry;

/// <summary>
/// Inbound telemetry of a mesh server, first in the pipeline so every request is seen (authorization denials too):
/// reads and strips the caller's metadata-exchange headers, answers a mesh caller with this workload's, counts the
/// request and response bodies (bytes and gRPC messages), and records Istio's request metrics with
/// <c>reporter="destination"</c>: the caller from its metadata and its SPIFFE ID (<c>source_principal</c>, and its
/// namespace from the ID first, as istio-proxy does), <c>connection_security_policy</c> <c>mutual_tls</c> or
/// <c>none</c> from the connection.
/// </summary>
internal sealed class MeshTelemetryMiddleware(RequestDelegate next, ServerTelemetry telemetry)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        var request = context.Request;
        var headers = request.Headers;
        var peerMetadata = headers[PeerMetadataCodec.MetadataHeader];
        var peer = WorkloadMetadata.Unknown;
        if (!StringValues.IsNullOrEmpty(peerMetadata))
        {
            peer = PeerMetadataCodec.ReadPeer(peerMetadata[0], headers[PeerMetadataCodec.IdHeader].FirstOrDefault());
            headers.Remove(PeerMetadataCodec.MetadataHeader);
            headers.Remove(PeerMetadataCodec.IdHeader);
            context.Response.Headers[PeerMetadataCodec.MetadataHeader] = telemetry.MetadataHeader;
            context.Response.Headers[PeerMetadataCodec.IdHeader] = telemetry.IdHeader;
        }

        if (!ServerTelemetry.Metrics.Enabled)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var requestBody = context.Features.Get<IRequestBodyPipeFeature>() is { } pipe ? new CountingRequestBody(pipe.Reader) : null;
        if (requestBody is not null)
        {
            context.Features.Set<IRequestBodyPipeFeature>(requestBody);
        }

        var responseBody = context.Features.Get<IHttpResponseBodyFeature>() is { } body ? new CountingResponseBody(body) : null;
        if (responseBody is not null)
        {
            context.Features.Set<IHttpResponseBodyFeature>(responseBody);
        }

        var flags = ResponseFlags.None;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception)
        {
            flags |= context.RequestAborted.IsCancellationRequested ? ResponseFlags.DownstreamConnectionTermination : ResponseFlags.None;
            Record(context, start, peer, requestBody, responseBody, flags, failed: true);
            throw;
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            flags |= ResponseFlags.DownstreamConnectionTermination;
        }

        Record(context, start, peer, requestBody, responseBody, flags, failed: false);
    }

    private void Record(HttpContext context, long start, WorkloadMetadata peer, CountingRequestBody? requestBody, CountingResponseBody? responseBody, ResponseFlags flags, bool failed)
    {
        var connection = context.Features.Get<MeshConnectionFeature>();
        var self = telemetry.Self;
        var grpc = context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;
        var record = new IstioRequest
        {
            Reporter = IstioLabels.Destination,
            Source = peer,
            Destination = self,
            Protocol = grpc ? IstioLabels.Grpc : IstioLabels.Http,
            Flags = flags,
            SecurityPolicy = connection?.IsMutualTls == true ? IstioLabels.MutualTls : IstioLabels.None,
            ResponseCode = failed && !context.Response.HasStarted ? 500 : context.Response.StatusCode,
            DurationMilliseconds = Stopwatch.GetElapsedTime(start).TotalMilliseconds,
            RequestBytes = requestBody?.Counter.Bytes is > 0 and var read ? read : context.Request.ContentLength ?? 0,
            ResponseBytes = responseBody?.Counter.Bytes ?? 0,
            RequestMessages = requestBody?.Counter.Messages ?? 0,
            ResponseMessages = responseBody?.Counter.Messages ?? 0,
        };

        if (connection?.PeerIdentity is { } caller)
        {
            record.SourcePrincipal = caller.ToString();
            record.SourceNamespaceOverride = caller.Namespace;
        }

        if (connection?.LocalIdentity is { } local)
        {
            record.DestinationPrincipal = local.ToString();
        }

        if (grpc)
        {
            var status = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers["grpc-status"] is { Count: > 0 } trailer
                ? trailer[0]
                : context.Response.Headers["grpc-status"].FirstOrDefault();
            record.GrpcStatus = int.TryParse(status, System.Globalization.CultureInfo.InvariantCulture, out var code) ? code : failed ? 2 : null;
        }

        record.SetDestinationService(DestinationHost(context.Request.Host, self), self.Namespace);
        ServerTelemetry.Metrics.Record(record);
    }

    /// <summary>
    /// The service the caller addressed: the request's authority without the port, a short name completed in this
    /// workload's namespace; an address (a caller outside the mesh dialling an IP) names this workload's canonical service.
    /// </summary>
    private static string DestinationHost(HostString host, WorkloadMetadata self)
    {
        var name = host.Host;
        if (string.IsNullOrEmpty(name) || System.Net.IPAddress.TryParse(name, out _) || name == "localhost")
        {
            return self.CanonicalService + "." + self.Namespace + ".svc.cluster.local";
        }

        return name.AsSpan().Count('.') switch
        {
            0 => name + "." + self.Namespace + ".svc.cluster.local",
            1 => name + ".svc.cluster.local",
            _ => name,
        };
    }
}
