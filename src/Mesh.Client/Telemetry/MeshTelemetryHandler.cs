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

    /// <summary>
    /// Whether the handler serves a gRPC channel, whose picker may leave a single-attempt call on the request
    /// (<see cref="Policies.MeshCallHandler.CallKey"/>); an HttpClient's requests never carry one (their options are then
    /// not even created), and on an HttpClient the routing handler above strips the server's peer metadata from the
    /// responses of calls nothing measures, in the await it makes anyway (<see cref="Http.MeshRoutingHandler"/>).
    /// </summary>
    public bool ForChannel { get; init; }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var call = ForChannel && request.Options.TryGetValue(Policies.MeshCallHandler.CallKey, out var single) ? single : ClientCallTelemetry.Current;
        if (call is null && !telemetry.Measuring && !telemetry.Tracing)
        {
            // Nobody measures and no span can start: only what the peer and the trace need on the wire.
            AddMetadataHeaders(request);
            if (telemetry.Options.Tracing)
            {
                TraceHeaders.Inject(request, Activity.Current?.Context ?? default, parentSpanId: null, TraceHeaders.CurrentRequest ?? TraceHeaders.NewRequestId());
            }

            // Without the exchange no server answers with its metadata, so there is nothing to strip and nothing to await.
            if (!telemetry.Options.MetadataExchange || !ForChannel)
            {
                return base.SendAsync(request, cancellationToken);
            }

            Task<HttpResponseMessage> sent;
            try
            {
                sent = base.SendAsync(request, cancellationToken);
            }
            catch (Exception e)
            {
                return Task.FromException<HttpResponseMessage>(e); // as an async method would report it
            }

            return StripPeerHeadersAsync(sent);
        }

        return SendMeasuredAsync(request, call, cancellationToken);
    }

    // The smallest state machine that can wait for the response: it holds the send's task and nothing else.
    private static async Task<HttpResponseMessage> StripPeerHeadersAsync(Task<HttpResponseMessage> sent)
    {
        var response = await sent.ConfigureAwait(false);
        StripPeerHeaders(response);
        return response;
    }

    private void AddMetadataHeaders(HttpRequestMessage request)
    {
        if (!telemetry.Options.MetadataExchange)
        {
            return;
        }

        var headers = request.Headers;
        headers.Remove(PeerMetadataCodec.MetadataHeader); // a retry attempt re-sends the same request
        headers.Remove(PeerMetadataCodec.IdHeader);
        headers.TryAddWithoutValidation(PeerMetadataCodec.MetadataHeader, telemetry.MetadataHeader);
        headers.TryAddWithoutValidation(PeerMetadataCodec.IdHeader, telemetry.IdHeader);
    }

    /// <summary>Removes the server's metadata-exchange answer, so the application never sees it (istio-proxy strips it too).</summary>
    internal static void StripPeerHeaders(HttpResponseMessage response)
    {
        response.Headers.Remove(PeerMetadataCodec.MetadataHeader);
        response.Headers.Remove(PeerMetadataCodec.IdHeader);
    }

    /// <summary>
    /// Ends a single-attempt call whose attempt threw, as the call handler ends the calls it tracks: a cancellation is
    /// DEADLINE_EXCEEDED once the caller's deadline has passed (Grpc.Net.Client cancels the request then), else CANCELLED;
    /// anything else UNAVAILABLE.
    /// </summary>
    private static void EndSingleAttempt(ClientCallTelemetry? call, HttpRequestMessage request, bool failure)
    {
        if (call is not { SingleAttempt: true })
        {
            return;
        }

        var status = failure ? Grpc.Core.StatusCode.Unavailable
            : Policies.MeshCallHandler.CallerTimeout(request) is var timeout && timeout != TimeSpan.MaxValue && call.Elapsed >= timeout ? Grpc.Core.StatusCode.DeadlineExceeded
            : Grpc.Core.StatusCode.Cancelled;
        call.End((int)status, httpStatus: null);
    }

    /// <summary>
    /// A measured or traced attempt. What needs no span is set up here; the span is started in
    /// <see cref="SendAttemptAsync"/>, whose flow alone it is current in (an async method restores the caller's
    /// <see cref="Activity.Current"/> when it returns).
    /// </summary>
    private Task<HttpResponseMessage> SendMeasuredAsync(HttpRequestMessage request, ClientCallTelemetry? call, CancellationToken cancellationToken)
    {
        var protocol = request.Content?.Headers.ContentType?.MediaType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
            ? IstioLabels.Grpc
            : IstioLabels.Http;
        var destination = telemetry.DestinationFor(call?.Cluster, call?.Authority ?? request.Headers.Host ?? request.RequestUri?.Authority);
        var attempt = new Attempt(call, telemetry.NewRequest(protocol)) { Metrics = telemetry.Options.Metrics, Destination = destination };
        attempt.Request.SetDestinationService(destination);

        AddMetadataHeaders(request);
        if (request.Content is { } body && telemetry.Measuring)
        {
            attempt.Sent = new CountingContent(body, completed: null);
            request.Content = attempt.Sent;
        }

        return SendAttemptAsync(request, attempt, cancellationToken);
    }

    // Holds only its parameters across the send (no other locals live across the await).
    private async Task<HttpResponseMessage> SendAttemptAsync(HttpRequestMessage request, Attempt attempt, CancellationToken cancellationToken)
    {
        if (telemetry.Options.Tracing)
        {
            StartSpan(request, attempt);
        }

        var call = attempt.Call;
        if (attempt.Request.Protocol == IstioLabels.Grpc)
        {
            attempt.Method = GrpcMetrics.Method(request.RequestUri?.AbsolutePath);
            attempt.Target = call?.Target ?? (call?.Authority is { } authority ? "xds:///" + authority : request.RequestUri?.Authority);
            if (attempt.Metrics)
            {
                ClientTelemetry.Grpc.RecordStarted(attempt.Method, attempt.Target);
            }
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
            EndSingleAttempt(attempt.Call, request, failure: true);
            throw;
        }
        catch (OperationCanceledException)
        {
            attempt.Finish(received: null);
            EndSingleAttempt(attempt.Call, request, failure: false);
            throw;
        }
        catch (Exception)
        {
            attempt.Finish(received: null);
            EndSingleAttempt(attempt.Call, request, failure: true);
            throw;
        }

        Answered(attempt, response);
        return response;
    }

    /// <summary>
    /// A client span per attempt (Envoy's upstream span), its context propagated as W3C and B3, with x-request-id. The
    /// mesh's sampling (Telemetry randomSamplingPercentage) decides first; an unsampled call without a context sends one
    /// that says so, so the next hops do not draw again. The span becomes current for the caller's flow.
    /// </summary>
    private void StartSpan(HttpRequestMessage request, Attempt attempt)
    {
        var parent = Activity.Current;
        var parentContext = RecordedParent.Of(parent);
        var sampled = telemetry.Sampling.ShouldRecord(parentContext);
        var activity = sampled && telemetry.Tracing
            ? MeshClientDiagnostics.ActivitySource.StartActivity(attempt.Destination.SpanName ?? attempt.Destination.Service + "/*", ActivityKind.Client, parentContext)
            : null;
        var requestId = TraceHeaders.CurrentRequest ?? TraceHeaders.NewRequestId();
        var context = activity?.Context ?? parent?.Context ?? (sampled ? default : TraceSampling.NewUnsampledContext());
        TraceHeaders.Inject(request, context, activity is null ? null : activity.ParentSpanId.ToHexString(), requestId);
        if (activity is null)
        {
            return;
        }

        attempt.Activity = activity;
        if (!activity.IsAllDataRequested)
        {
            return; // propagation only: no tags
        }

        var call = attempt.Call;
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

        if (attempt.Request.Protocol == IstioLabels.Grpc)
        {
            activity.SetTag(SpanTags.GrpcPath, request.RequestUri?.AbsolutePath);
        }
    }

    /// <summary>The attempt's response headers arrived: the peer's metadata is read and stripped, the body counted to its end.</summary>
    private static void Answered(Attempt attempt, HttpResponseMessage response)
    {
        attempt.Response = response;
        attempt.Request.ResponseCode = (int)response.StatusCode;
        attempt.Request.Destination = PeerMetadataCodec.ReadPeer(
            First(response.Headers, PeerMetadataCodec.MetadataHeader), First(response.Headers, PeerMetadataCodec.IdHeader));
        StripPeerHeaders(response);
        if (attempt.Call is { SingleAttempt: true } call)
        {
            // A trailers-only response ends the call now; otherwise its status is read from the trailers when the body ends.
            call.End(Policies.GrpcCallState.TrailersOnlyStatus(response) is { } status ? (int)status : null, httpStatus: null);
        }

        if (response.Content is { } content)
        {
            response.Content = new CountingContent(content, ResponseRead) { State = attempt };
        }
        else
        {
            attempt.Finish(received: null);
        }
    }

    // The raw first value, without parsing or copying (HeaderStringValues holds a single value as the string itself).
    private static string? First(System.Net.Http.Headers.HttpHeaders headers, string name)
    {
        if (!headers.NonValidated.TryGetValues(name, out var values))
        {
            return null;
        }

        foreach (var value in values)
        {
            return value;
        }

        return null;
    }

    /// <summary>One attempt being measured.</summary>
    private sealed class Attempt(ClientCallTelemetry? call, IstioRequest request)
    {
        /// <summary>The call the attempt belongs to, when something above tracks it.</summary>
        public ClientCallTelemetry? Call => call;

        /// <summary>The destination-service labels (and span name) of the attempt's service.</summary>
        public DestinationServiceLabels Destination { get; init; } = DestinationServiceLabels.Unknown;

        private readonly long _start = System.Diagnostics.Stopwatch.GetTimestamp();
        private int _finished;

        public IstioRequest Request { get; } = request;

        /// <summary>Whether metrics are on (<see cref="MeshTelemetryOptions.Metrics"/>); a traced-only attempt records none.</summary>
        public bool Metrics { get; init; }

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

            if (Method is not null && Metrics)
            {
                ClientTelemetry.Grpc.RecordEnded(Method, Target, Request.GrpcStatus, Request.DurationMilliseconds / 1000, Request.RequestBytes, Request.ResponseBytes);
            }

            if (Activity is { IsAllDataRequested: true } activity)
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
            }

            Activity?.Stop(); // an unsampled span (propagation only) gets no tags, but ends too

            if (call is not null)
            {
                call.AttemptEnded(Request);
            }
            else
            {
                if (Metrics)
                {
                    ClientTelemetry.Record(Request);
                }
            }
        }
    }
}
