using System.Diagnostics;
using Mesh.Client.Diagnostics;

namespace Mesh.Client.Telemetry;

/// <summary>
/// The transport side of client telemetry, one HTTP request per call attempt (below the channel's <see cref="Policies.MeshCallHandler"/> for gRPC
/// channels, below the routing handler for HttpClients): sends the metadata-exchange headers, counts request and response bytes
/// and gRPC messages, reads the server's peer metadata (and strips it before the application sees it), and when the
/// response has been read reports the attempt — to the call it belongs to (<see cref="ClientCallTelemetry"/>), or, for
/// a call nothing above tracks, records it as the call.
/// </summary>
internal sealed class MeshTelemetryHandler(ClientTelemetry telemetry) : DelegatingHandler
{
    private static readonly Action<CountingContent> ResponseRead = static content => ((Attempt)content.State!).Finish(content);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var call = ClientCallTelemetry.Current;
        var protocol = request.Content?.Headers.ContentType?.MediaType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
            ? IstioLabels.Grpc
            : IstioLabels.Http;
        var attempt = new Attempt(call, telemetry.NewRequest(protocol));
        telemetry.SetDestinationService(attempt.Request, call?.Cluster, call?.Authority ?? request.Headers.Host ?? request.RequestUri?.Authority);

        var headers = request.Headers;
        headers.Remove(PeerMetadataCodec.MetadataHeader);
        headers.Remove(PeerMetadataCodec.IdHeader);
        headers.TryAddWithoutValidation(PeerMetadataCodec.MetadataHeader, telemetry.MetadataHeader);
        headers.TryAddWithoutValidation(PeerMetadataCodec.IdHeader, telemetry.IdHeader);
        if (request.Content is { } body)
        {
            attempt.Sent = new CountingContent(body, completed: null);
            request.Content = attempt.Sent;
        }

        // A client span per attempt (Envoy's upstream span), its context propagated as W3C and B3, with x-request-id.
        // The mesh's sampling (Telemetry randomSamplingPercentage) decides first; an unsampled call without a context
        // sends one that says so, so the next hops do not draw again.
        var parent = Activity.Current;
        var parentContext = RecordedParent.Of(parent);
        var sampled = telemetry.Sampling.ShouldRecord(parentContext);
        var activity = sampled && MeshClientDiagnostics.ActivitySource.HasListeners()
            ? MeshClientDiagnostics.ActivitySource.StartActivity(attempt.Request.DestinationService + "/*", ActivityKind.Client, parentContext)
            : null;
        var requestId = TraceHeaders.CurrentRequest ?? TraceHeaders.NewRequestId();
        var context = activity?.Context ?? parent?.Context ?? (sampled ? default : TraceSampling.NewUnsampledContext());
        TraceHeaders.Inject(request, context, activity is null ? null : activity.ParentSpanId.ToHexString(), requestId);
        if (activity is not null)
        {
            attempt.Activity = activity;
            SpanTags.AddWorkload(activity, telemetry.Self);
            activity.SetTag(SpanTags.RequestId, requestId);
            activity.SetTag(SpanTags.HttpMethod, request.Method.Method);
            activity.SetTag(SpanTags.HttpUrl, request.RequestUri?.ToString());
            activity.SetTag(SpanTags.HttpProtocol, "HTTP/" + request.Version.ToString());
            activity.SetTag(SpanTags.UpstreamAddress, request.RequestUri?.Authority);
            if (call?.Cluster is { } cluster)
            {
                activity.SetTag(SpanTags.UpstreamCluster, cluster);
                activity.SetTag(SpanTags.UpstreamClusterName, cluster);
            }

            if (call is { Attempts: > 0 } retried)
            {
                activity.AddEvent(new ActivityEvent("retry", tags: new ActivityTagsCollection { ["attempt"] = retried.Attempts + 1 }));
            }

            if (protocol == IstioLabels.Grpc)
            {
                activity.SetTag(SpanTags.GrpcPath, request.RequestUri?.AbsolutePath);
            }
        }

        if (protocol == IstioLabels.Grpc)
        {
            attempt.Method = GrpcMetrics.Method(request.RequestUri?.AbsolutePath);
            attempt.Target = call?.Authority is { } authority ? "xds:///" + authority : request.RequestUri?.Authority;
            ClientTelemetry.Grpc.RecordStarted(attempt.Method, attempt.Target);
        }

        call?.AttemptStarted();
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            attempt.Request.Flags |= ResponseFlags.UpstreamConnectionFailure;
            attempt.Finish(received: null);
            throw;
        }
        catch (Exception)
        {
            attempt.Finish(received: null);
            throw;
        }

        attempt.Response = response;
        attempt.Request.ResponseCode = (int)response.StatusCode;
        attempt.Request.Destination = PeerMetadataCodec.ReadPeer(
            First(response.Headers, PeerMetadataCodec.MetadataHeader), First(response.Headers, PeerMetadataCodec.IdHeader));
        response.Headers.Remove(PeerMetadataCodec.MetadataHeader);
        response.Headers.Remove(PeerMetadataCodec.IdHeader);
        if (response.Content is { } content)
        {
            response.Content = new CountingContent(content, ResponseRead) { State = attempt };
        }
        else
        {
            attempt.Finish(received: null);
        }

        return response;
    }

    private static string? First(System.Net.Http.Headers.HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>One attempt being measured.</summary>
    private sealed class Attempt(ClientCallTelemetry? call, IstioRequest request)
    {
        private readonly long _start = System.Diagnostics.Stopwatch.GetTimestamp();
        private int _finished;

        public IstioRequest Request { get; } = request;

        public CountingContent? Sent { get; set; }

        public HttpResponseMessage? Response { get; set; }

        public Activity? Activity { get; set; }

        public string? Method { get; set; }

        public string? Target { get; set; }

        public void Finish(CountingContent? received)
        {
            if (Interlocked.Exchange(ref _finished, 1) != 0)
            {
                return;
            }

            Request.DurationMilliseconds = ClientTelemetry.ElapsedMilliseconds(_start);
            Request.RequestBytes = Sent?.Bytes ?? 0;
            Request.RequestMessages = Sent?.Messages ?? 0;
            if (received is not null)
            {
                Request.ResponseBytes = received.Bytes;
                Request.ResponseMessages = received.Messages;
            }

            if (Request.Protocol == IstioLabels.Grpc && Response is { } response)
            {
                var status = First(response.TrailingHeaders, "grpc-status") ?? First(response.Headers, "grpc-status");
                if (int.TryParse(status, System.Globalization.CultureInfo.InvariantCulture, out var code))
                {
                    Request.GrpcStatus = code;
                }
            }

            if (Method is not null)
            {
                ClientTelemetry.Grpc.RecordEnded(Method, Target, Request.GrpcStatus, Request.DurationMilliseconds / 1000, Request.RequestBytes, Request.ResponseBytes);
            }

            if (Activity is { } activity)
            {
                activity.SetTag(SpanTags.HttpStatusCode, Request.ResponseCode);
                activity.SetTag(SpanTags.RequestSize, Request.RequestBytes);
                activity.SetTag(SpanTags.ResponseSize, Request.ResponseBytes);
                activity.SetTag(SpanTags.ResponseFlags, ResponseFlagsText.Of(Request.Flags));
                if (Request.GrpcStatus is { } grpc)
                {
                    activity.SetTag(SpanTags.GrpcStatusCode, grpc);
                }

                if (Request.ResponseCode is 0 or >= 500 || Request.GrpcStatus is > 0)
                {
                    activity.SetTag(SpanTags.Error, "true");
                    activity.SetStatus(ActivityStatusCode.Error);
                }

                activity.Stop();
            }

            if (call is not null)
            {
                call.AttemptEnded(Request);
            }
            else
            {
                ClientTelemetry.Record(Request);
            }
        }
    }
}
