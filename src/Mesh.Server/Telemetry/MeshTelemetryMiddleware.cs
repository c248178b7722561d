using System.Diagnostics;
using Mesh.Client.Telemetry;
using Mesh.Server.Diagnostics;
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

        // x-request-id: the caller's, or a new one (Envoy makes one at the edge); outgoing calls of this request carry it.
        var requestId = headers[TraceHeaders.RequestId].FirstOrDefault() ?? TraceHeaders.NewRequestId();
        TraceHeaders.CurrentRequest = requestId; // this async method's flow (the application's handling) only
        var activity = StartActivity(context, requestId, peer, out var unsampled);
        var metered = ServerTelemetry.Metrics.Enabled || ServerTelemetry.Grpc.Duration.Enabled;
        var grpcMethod = context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true
            ? GrpcMetrics.Method(context.Request.Path.Value)
            : null;
        if (grpcMethod is not null)
        {
            ServerTelemetry.Grpc.RecordStarted(grpcMethod, target: null);
        }

        if (!metered && activity is null)
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            finally
            {
                unsampled?.Stop();
            }

            return;
        }

        CountingRequestBody? requestBody = null;
        CountingResponseBody? responseBody = null;
        if (metered || activity is not null)
        {
            requestBody = context.Features.Get<IRequestBodyPipeFeature>() is { } pipe ? new CountingRequestBody(pipe.Reader) : null;
            if (requestBody is not null)
            {
                context.Features.Set<IRequestBodyPipeFeature>(requestBody);
            }

            responseBody = context.Features.Get<IHttpResponseBodyFeature>() is { } body ? new CountingResponseBody(body) : null;
            if (responseBody is not null)
            {
                context.Features.Set<IHttpResponseBodyFeature>(responseBody);
            }
        }

        var flags = ResponseFlags.None;
        var failed = false;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception)
        {
            failed = true;
            throw;
        }
        finally
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                flags |= ResponseFlags.DownstreamConnectionTermination;
            }

            var record = Record(context, start, peer, requestBody, responseBody, flags, failed);
            if (metered)
            {
                ServerTelemetry.Metrics.Record(record);
                if (grpcMethod is not null)
                {
                    ServerTelemetry.Grpc.RecordEnded(grpcMethod, target: null, record.GrpcStatus, record.DurationMilliseconds / 1000, record.ResponseBytes, record.RequestBytes);
                }
            }

            if (activity is not null)
            {
                EndActivity(activity, record);
            }

            unsampled?.Stop();
        }
    }

    /// <summary>
    /// The server span (Envoy's inbound span): a child of the caller's W3C context (through ASP.NET Core's own activity
    /// when that is recorded), or of its B3 context when the caller is a Zipkin-propagating one.
    /// </summary>
    /// <remarks>
    /// The mesh's sampling (the listener's <c>tracing.random_sampling</c>, from a Telemetry resource) decides first:
    /// the caller's decision when it sent one, else a random draw. A request it does not sample gets no span; when the
    /// application's flow has no context to say so, <paramref name="unsampled"/> carries one (not recorded, never
    /// exported) so that the calls it makes do not draw again.
    /// </remarks>
    private Activity? StartActivity(HttpContext context, string requestId, WorkloadMetadata peer, out Activity? unsampled)
    {
        unsampled = null;
        var source = MeshServerDiagnostics.ActivitySource;
        if (!source.HasListeners())
        {
            return null;
        }

        if (context.Features.Get<MeshConnectionFeature>()?.Listener.Current?.Resource.RandomSampling is { } percent
            && !MeshSampled(context, percent, out unsampled))
        {
            return null;
        }

        var headers = context.Request.Headers;
        var name = context.Request.Host.Host + ":" + context.Request.Host.Port?.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/*";
        Activity? activity;
        // ASP.NET Core's own request activity is our parent only when someone records it; otherwise the caller's
        // context (W3C, or B3 from a Zipkin-propagating caller) is, so the hop is never parented to an unexported span.
        var current = Activity.Current;
        var recordedCurrent = current is { Recorded: true } && current.Source.HasListeners();
        if ((!recordedCurrent || StringValues.IsNullOrEmpty(headers[TraceHeaders.TraceParent]))
            && TraceHeaders.TryExtract(headers[TraceHeaders.TraceParent].FirstOrDefault(), headers[TraceHeaders.TraceState].FirstOrDefault(), headers[TraceHeaders.B3].FirstOrDefault(),
                headers[TraceHeaders.B3TraceId].FirstOrDefault(), headers[TraceHeaders.B3SpanId].FirstOrDefault(), headers[TraceHeaders.B3Sampled].FirstOrDefault(), out var parent))
        {
            activity = source.StartActivity(name, ActivityKind.Server, parent);
        }
        else if (current is not null && !recordedCurrent)
        {
            // No caller context and an activity nobody records (ASP.NET Core's, made for its logs): a new trace, so
            // that a parent-based sampler does not drop it for its unsampled parent. The flow keeps ASP.NET Core's
            // activity when the span is not recorded after all.
            Activity.Current = null;
            activity = source.StartActivity(name, ActivityKind.Server);
            if (activity is null)
            {
                Activity.Current = current;
            }
        }
        else
        {
            activity = source.StartActivity(name, ActivityKind.Server);
        }

        if (activity is not null)
        {
            SpanTags.AddWorkload(activity, telemetry.Self);
            activity.SetTag(SpanTags.RequestId, requestId);
            activity.SetTag(SpanTags.HttpMethod, context.Request.Method);
            activity.SetTag(SpanTags.HttpUrl, context.Request.Scheme + "://" + context.Request.Host.Value + context.Request.Path.Value);
            activity.SetTag(SpanTags.HttpProtocol, context.Request.Protocol);
            activity.SetTag(SpanTags.DownstreamCluster, peer.Workload);
            activity.SetTag("peer.address", context.Connection.RemoteIpAddress?.ToString());
        }

        return activity;
    }

    private static bool MeshSampled(HttpContext context, double percent, out Activity? unsampled)
    {
        unsampled = null;
        var headers = context.Request.Headers;
        var current = Activity.Current;
        var caller = TraceHeaders.TryExtract(headers[TraceHeaders.TraceParent].FirstOrDefault(), headers[TraceHeaders.TraceState].FirstOrDefault(), headers[TraceHeaders.B3].FirstOrDefault(),
            headers[TraceHeaders.B3TraceId].FirstOrDefault(), headers[TraceHeaders.B3SpanId].FirstOrDefault(), headers[TraceHeaders.B3Sampled].FirstOrDefault(), out var remote)
            ? remote
            : current is { Recorded: true } ? current.Context : default;
        if (TraceSampling.ShouldRecord(percent, caller))
        {
            if (caller.TraceId == default && current is not null)
            {
                Activity.Current = null; // sampled as a new trace: the span is a root, not a child of an unrecorded activity
            }

            return true;
        }

        if (current is null || current.Recorded)
        {
            var propagated = caller.TraceId == default ? TraceSampling.NewUnsampledContext() : caller;
            unsampled = new Activity("Mesh.Server.Unsampled");
            unsampled.SetParentId(propagated.TraceId, propagated.SpanId, ActivityTraceFlags.None);
            unsampled.Start();
        }

        return false;
    }

    private static void EndActivity(Activity activity, IstioRequest record)
    {
        activity.SetTag(SpanTags.HttpStatusCode, record.ResponseCode);
        activity.SetTag(SpanTags.RequestSize, record.RequestBytes);
        activity.SetTag(SpanTags.ResponseSize, record.ResponseBytes);
        activity.SetTag(SpanTags.ResponseFlags, ResponseFlagsText.Of(record.Flags));
        if (record.GrpcStatus is { } grpc)
        {
            activity.SetTag(SpanTags.GrpcStatusCode, grpc);
        }

        if (record.ResponseCode >= 500 || record.GrpcStatus is > 0)
        {
            activity.SetTag(SpanTags.Error, "true");
            activity.SetStatus(ActivityStatusCode.Error);
        }

        activity.Stop();
    }

    private IstioRequest Record(HttpContext context, long start, WorkloadMetadata peer, CountingRequestBody? requestBody, CountingResponseBody? responseBody, ResponseFlags flags, bool failed)
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
        return record;
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
