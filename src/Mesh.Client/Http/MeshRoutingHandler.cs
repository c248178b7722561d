using System.Globalization;
using System.Net;
using Mesh.Client.Diagnostics;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Policies;
using Mesh.Client.Routing;
using Mesh.Client.Telemetry;
using Microsoft.Extensions.Options;
using Polly;

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

    private readonly long _bufferLimit = options.Value.RetryBufferPerCallSize;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is not { IsAbsoluteUri: true } uri)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var target = request.Options.TryGetValue(GatewayRouteOption, out var gatewayRoute)
            ? targets.Get(gatewayRoute)
            : targets.Get(uri.IsDefaultPort ? uri.Host : uri.Authority);
        await target.WaitForFirstUpdateAsync(cancellationToken).ConfigureAwait(false);

        if (target.State is not { } state)
        {
            return Answer(HttpStatusCode.ServiceUnavailable, target.Error ?? "no xDS configuration", request);
        }

        var index = state.Table.Match(uri.AbsolutePath, new HttpRequestHeaders(request));
        if (index < 0)
        {
            ClientCallTelemetry.Current?.AddFlag(ResponseFlags.NoRoute);
            return Answer(HttpStatusCode.NotFound, RouteTable.NoRouteReason, request);
        }

        var actions = state.Table.Routes[index].HttpActions;
        if (actions?.Answer(request, uri, state.Table.Routes[index].Match) is { } answered)
        {
            return answered; // a redirect or direct response, answered in-process as Envoy would
        }

        if (state.Table.Routes[index].Action is not { } action)
        {
            return Answer(HttpStatusCode.ServiceUnavailable, RouteTable.NonForwardingReason, request);
        }

        var cluster = RouteTable.ChooseCluster(action);
        var policy = state.Policies[index].ForCluster(cluster); // A39: the weighted cluster's overrides win
        if (actions is not null)
        {
            uri = actions.ApplyToRequest(request, uri, state.Table.Routes[index].Match, cluster); // rewrite, request headers
            await Routing.RouteActions.RequestMirror.MirrorAsync(actions, state.Table, action, request, uri, base.SendAsync).ConfigureAwait(false);
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
        using var call = new HttpCallState(this, request, uri, state.Table, action, cluster, policy, buffer);
        try
        {
            HttpResponseMessage response;

            // 4. Retries (A44 / Envoy's retry_on) through the route's Polly pipeline, deciding on results.
            if (policy.RetryPipeline is { } pipeline)
            {
                var context = ResilienceContextPool.Shared.Get(token);
                context.Properties.Set(PolicyCall.Key, call);
                try
                {
                    response = await pipeline.ExecuteAsync(static (ctx, c) => new ValueTask<HttpResponseMessage>(c.Handler.AttemptAsync(c, ctx.CancellationToken)), context, call).ConfigureAwait(false);
                }
                finally
                {
                    ResilienceContextPool.Shared.Return(context);
                }

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
    private async Task<HttpResponseMessage> AttemptAsync(HttpCallState call, CancellationToken cancellationToken)
    {
        var attempt = ++call.Attempts;
        var request = call.Request;
        call.PerTryTimedOut = false;
        var pick = call.Table.PickInCluster(call.Cluster, call.Action, new HttpRequestHeaders(request));
        if (pick.Member is not { } member)
        {
            call.CanRetry = false; // a local answer (no healthy endpoint, circuit breaker): Envoy does not retry it
            MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickFail);
            ClientCallTelemetry.Current?.AddFlag(ResponseFlagsText.ForPickFailure(pick.IsDrop, pick.Failure));
            return Answer(HttpStatusCode.ServiceUnavailable, pick.Failure ?? "no endpoint is ready", request);
        }

        if (member.Tls is { } tls)
        {
            if (tls.Error is not null)
            {
                member.Finish();
                call.CanRetry = false;
                return Answer(HttpStatusCode.ServiceUnavailable, tls.Error, request);
            }

            request.Options.Set(Transport.MeshConnector.TlsOption, tls);
        }

        MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickComplete);
        request.Headers.Host ??= call.Target.Authority;
        request.RequestUri = new UriBuilder(call.Target) { Host = member.Endpoint.Host, Port = member.Endpoint.Port }.Uri;
        if (ClientCallTelemetry.Current is { } telemetry)
        {
            telemetry.Cluster = member.Cluster; // the attempt's destination_service / upstream_cluster
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

        LoadReporting.LoadReportingHandler.Track(request, member.Load);
        member.Start();
        var perTry = call.Policy.Retry?.PerTryTimeout is { } t ? new CancellationTokenSource(t, time) : null;
        var linked = perTry is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, perTry.Token);
        try
        {
            var response = await base.SendAsync(request, linked?.Token ?? cancellationToken).ConfigureAwait(false);
            member.RecordOutcome(success: (int)response.StatusCode < 500);
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
            call.PerTryTimedOut = true;
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
