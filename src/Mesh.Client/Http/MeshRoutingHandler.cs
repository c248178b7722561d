using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using Mesh.Client.Diagnostics;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Policies;
using Mesh.Client.Resources;
using Mesh.Client.Routing;
using Mesh.Client.Telemetry;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Http;

/// <summary>
/// Routes each HttpClient request through the mesh: the request's authority names the xDS target (<c>http://reviews</c>
/// or <c>http://reviews.default.svc.cluster.local:9080</c>), the route table chooses a cluster (once per request) and each
/// attempt an endpoint in it. The route's compiled <see cref="RoutePolicy"/> — the one the gRPC channels run, with the
/// chosen cluster's A39 overrides — applies in the same order: fault delay and abort (answered with the abort's HTTP
/// status), the route timeout (504), retries through the route's Polly pipeline with Envoy's HTTP <c>retry_on</c>
/// conditions, a per-try timeout, the request body replayed from a buffer bounded by
/// <see cref="MeshClientOptions.RetryBufferPerCallSize"/>, and <c>x-envoy-attempt-count</c> on every attempt. No route
/// gives 404 and no usable endpoint 503, as Envoy answers.
/// </summary>
internal sealed class MeshRoutingHandler(MeshTargetRegistry targets, TimeProvider time, IOptions<MeshClientOptions> options) : DelegatingHandler
{
    /// <summary>
    /// The attempt's number (1 for the first), sent on every attempt of a request whose route has a retry policy — as
    /// Envoy does with include_request_attempt_count; the HTTP twin of gRPC's <c>grpc-previous-rpc-attempts</c> (A6).
    /// </summary>
    public const string AttemptCountHeader = "x-envoy-attempt-count";

    /// <summary>
    /// The gateway virtual host a request is routed by (set by a gateway on the request it forwards); without it the
    /// request's authority names the target.
    /// </summary>
    public static readonly HttpRequestOptionsKey<GatewayRoute> GatewayRouteOption = new("Mesh.GatewayRoute");

    private static volatile bool s_gatewayRoutesInUse;

    /// <summary>
    /// Set by a gateway that routes its requests by <see cref="GatewayRouteOption"/>. Every other process never reads a
    /// request's options: the first read of <see cref="HttpRequestMessage.Options"/> allocates them.
    /// </summary>
    public static bool GatewayRoutesInUse
    {
        get => s_gatewayRoutesInUse;
        set => s_gatewayRoutesInUse = value;
    }

    private readonly long _bufferLimit = options.Value.RetryBufferPerCallSize;

    // The telemetry handler below leaves the server's peer-metadata answer of unmeasured requests to this handler.
    private readonly bool _stripPeerMetadata = options.Value.Telemetry.MetadataExchange;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is not { IsAbsoluteUri: true } uri)
        {
            return base.SendAsync(request, cancellationToken);
        }

        try
        {
            MeshTarget target;
            string authority; // the target's name, and the Host every attempt sends
            if (GatewayRoutesInUse && request.Options.TryGetValue(GatewayRouteOption, out var gatewayRoute))
            {
                target = targets.Get(gatewayRoute);
                authority = uri.IsDefaultPort ? uri.Host : uri.Authority;
            }
            else
            {
                target = targets.ForRequest(uri, out authority);
            }

            var ready = target.WaitForFirstUpdateAsync(cancellationToken);
            return ready.IsCompletedSuccessfully
                ? Route(request, uri, authority, target, cancellationToken)
                : RouteWhenReadyAsync(ready, request, uri, authority, target, cancellationToken);
        }
        catch (Exception e)
        {
            return Task.FromException<HttpResponseMessage>(e); // as an async method would report it
        }
    }

    private async Task<HttpResponseMessage> RouteWhenReadyAsync(ValueTask ready, HttpRequestMessage request, Uri uri, string authority, MeshTarget target, CancellationToken cancellationToken)
    {
        await ready.ConfigureAwait(false);
        return await Route(request, uri, authority, target, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Matches the route and answers in-process, or sends: a route with no policies and no request or response changes
    /// is one attempt with nothing around it (no state machine of its own per request), any other goes through
    /// <see cref="SendRoutedAsync"/>.
    /// </summary>
    private Task<HttpResponseMessage> Route(HttpRequestMessage request, Uri uri, string authority, MeshTarget target, CancellationToken cancellationToken)
    {
        if (target.State is not { } state)
        {
            return Task.FromResult(Answer(HttpStatusCode.ServiceUnavailable, target.Error ?? "no xDS configuration", request));
        }

        var index = state.Table.Match(RequestUriText.AbsolutePath(uri), new HttpRequestHeaders(request));
        if (index < 0)
        {
            ClientCallTelemetry.Current?.AddFlag(ResponseFlags.NoRoute);
            return Task.FromResult(Answer(HttpStatusCode.NotFound, RouteTable.NoRouteReason, request));
        }

        var route = state.Table.Routes[index];
        var actions = route.HttpActions;
        if (actions?.Answer(request, uri, route.Match) is { } answered)
        {
            return Task.FromResult(answered); // a redirect or direct response, answered in-process as Envoy would
        }

        if (route.Action is not { } action)
        {
            return Task.FromResult(Answer(HttpStatusCode.ServiceUnavailable, RouteTable.NonForwardingReason, request));
        }

        var cluster = RouteTable.ChooseCluster(action);
        var policy = state.Policies[index].ForCluster(cluster); // A39: the weighted cluster's overrides win
        if (actions is null && policy.IsEmpty && policy.Retry is null)
        {
            return TryPick(request, state.Table, cluster, action, uri, authority, out var member, out var answer)
                ? SendToAsync(request, member, call: null, perTryTimeout: null, cancellationToken)
                : Task.FromResult(answer);
        }

        return SendRoutedAsync(request, uri, authority, state.Table, route, action, actions, cluster, policy, cancellationToken);
    }

    /// <summary>A request whose route has policies or request/response changes: faults, timeout, retries around the attempts.</summary>
    private async Task<HttpResponseMessage> SendRoutedAsync(
        HttpRequestMessage request, Uri uri, string authority, RouteTable table, RouteResource route, RouteActionResource action, Routing.RouteActions.HttpRouteActions? actions, string cluster, RoutePolicy policy, CancellationToken cancellationToken)
    {
        if (actions is not null)
        {
            uri = actions.ApplyToRequest(request, uri, route.Match, cluster); // rewrite, request headers
            await Routing.RouteActions.RequestMirror.MirrorAsync(actions, table, action, request, uri, base.SendAsync).ConfigureAwait(false);
        }

        // 1, 2. Faults (A33): a delay (the caller's cancellation still applies), then an abort that never reaches the server.
        if (policy.Fault is { } fault && await fault.ApplyAsync(new HttpRequestHeaders(request), time, cancellationToken).ConfigureAwait(false) is { } abort)
        {
            return Answer((HttpStatusCode)abort.HttpStatus, "fault filter abort", request);
        }

        // 3. The route timeout: over every attempt and backoff, until the response headers.
        using var timeout = policy.Timeout is { } routeTimeout ? new CancellationTokenSource(routeTimeout, time) : null;
        using var linked = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked?.Token ?? cancellationToken;
        var buffer = policy.RetryPipeline is not null && request.Content is not null ? new RequestBuffer(request.Content, _bufferLimit) : null;
        using var call = new HttpCallState(this, request, uri, table, action, cluster, policy, buffer) { Authority = authority };
        try
        {
            HttpResponseMessage response;

            // 4. Retries (A44 / Envoy's retry_on) through the route's Polly pipeline, deciding on results.
            if (policy.RetryPipeline is { } pipeline)
            {
                response = await call.ExecuteAsync(pipeline, token).ConfigureAwait(false);

                buffer?.Commit();
                if (call.RetriesExhausted(response, token))
                {
                    ClientCallTelemetry.Current?.AddFlag(ResponseFlags.UpstreamRetryLimitExceeded);
                }
            }
            else
            {
                response = await AttemptAsync(call, token).ConfigureAwait(false);
            }

            if (call.PerTryTimedOut)
            {
                ClientCallTelemetry.Current?.AddFlag(ResponseFlags.UpstreamRequestTimeout);
            }

            actions?.ApplyToResponse(response, cluster); // the route's and the destination's response header changes
            return response;
        }
        catch (OperationCanceledException) when (timeout?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            ClientCallTelemetry.Current?.AddFlag(ResponseFlags.UpstreamRequestTimeout);
            return Answer(HttpStatusCode.GatewayTimeout, "upstream request timeout", request);
        }
    }

    /// <summary>One attempt: an endpoint picked in the request's cluster (a slot under its circuit breaker), then the send.</summary>
    internal Task<HttpResponseMessage> AttemptAsync(HttpCallState call, CancellationToken cancellationToken)
    {
        try
        {
            var attempt = ++call.Attempts;
            var request = call.Request;
            call.PerTryTimedOut = false;
            if (!TryPick(request, call.Table, call.Cluster, call.Action, call.Target, call.Authority, out var member, out var answer))
            {
                call.CanRetry = false; // a local answer (no healthy endpoint, circuit breaker): Envoy does not retry it
                return Task.FromResult(answer);
            }

            if (call.Policy.Retry is not null)
            {
                request.Headers.Remove(AttemptCountHeader);
                request.Headers.TryAddWithoutValidation(AttemptCountHeader, attempt.ToString(CultureInfo.InvariantCulture));
            }

            if (call.Buffer is { } buffer)
            {
                request.Content = buffer.CreateAttempt(attempt, call.NextAttemptToken());
            }

            return SendToAsync(request, member, call, call.Policy.Retry?.PerTryTimeout, cancellationToken);
        }
        catch (Exception e)
        {
            return Task.FromException<HttpResponseMessage>(e); // as an async method would report it
        }
    }

    /// <summary>
    /// Picks an endpoint of <paramref name="cluster"/> and points the request at it (its URI, its TLS, its Host kept as the
    /// service's); false with the local answer when no endpoint can take it.
    /// </summary>
    private static bool TryPick(
        HttpRequestMessage request, RouteTable table, string cluster, RouteActionResource action, Uri target, string? authority,
        [NotNullWhen(true)] out ClusterMember? member, [NotNullWhen(false)] out HttpResponseMessage? answer)
    {
        var pick = table.PickInCluster(cluster, action, new HttpRequestHeaders(request));
        member = pick.Member;
        if (member is null)
        {
            MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickFail);
            ClientCallTelemetry.Current?.AddFlag(ResponseFlagsText.ForPickFailure(pick.IsDrop, pick.Failure));
            answer = Answer(HttpStatusCode.ServiceUnavailable, pick.Failure ?? "no endpoint is ready", request);
            return false;
        }

        if (member.Tls is { } tls)
        {
            if (tls.Error is not null)
            {
                member.Finish();
                member = null;
                answer = Answer(HttpStatusCode.ServiceUnavailable, tls.Error, request);
                return false;
            }

            request.Options.Set(Transport.MeshConnector.TlsOption, tls);
        }

        MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickComplete);
        request.Headers.Host ??= authority ?? target.Authority;
        request.RequestUri = EndpointRequestUri.ForHttp(target, member.Endpoint.EndPoint);
        if (ClientCallTelemetry.Current is { } telemetry)
        {
            telemetry.Cluster = member.Cluster; // the attempt's destination_service / upstream_cluster
        }

        answer = null;
        return true;
    }

    /// <summary>Sends an attempt to the picked endpoint (its slot held until the response), with its per-try timeout if any.</summary>
    private async Task<HttpResponseMessage> SendToAsync(HttpRequestMessage request, ClusterMember member, HttpCallState? call, TimeSpan? perTryTimeout, CancellationToken cancellationToken)
    {
        LoadReporting.LoadReportingHandler.Track(request, member.Load);
        member.Start();
        var perTry = perTryTimeout is { } t ? new CancellationTokenSource(t, time) : null;
        var linked = perTry is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, perTry.Token);
        try
        {
            var response = await base.SendAsync(request, linked?.Token ?? cancellationToken).ConfigureAwait(false);
            member.RecordOutcome(success: (int)response.StatusCode < 500);
            if (_stripPeerMetadata)
            {
                MeshTelemetryHandler.StripPeerHeaders(response);
            }

            return response;
        }
        catch (HttpRequestException)
        {
            member.RecordOutcome(success: false);
            throw;
        }
        catch (OperationCanceledException) when (perTry?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            member.RecordOutcome(success: false);
            if (call is not null)
            {
                call.PerTryTimedOut = true;
            }

            return Answer(HttpStatusCode.GatewayTimeout, "upstream request timeout", request);
        }
        finally
        {
            member.Finish();
            linked?.Dispose();
            perTry?.Dispose();
        }
    }

    /// <summary>A local answer, as Envoy gives one: the status, and the reason as the body (prefixed <c>mesh: </c>).</summary>
    private static HttpResponseMessage Answer(HttpStatusCode status, string reason, HttpRequestMessage request) => new(status)
    {
        RequestMessage = request,
        ReasonPhrase = reason,
        Content = new StringContent("mesh: " + reason),
    };
}
