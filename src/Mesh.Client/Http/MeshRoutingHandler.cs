using System.Net;
using Mesh.Client.Diagnostics;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Policies;
using Mesh.Client.Routing;

namespace Mesh.Client.Http;

/// <summary>
/// Routes each HttpClient request through the mesh: the request's authority names the xDS target (<c>http://reviews</c>
/// or <c>http://reviews.default.svc.cluster.local:9080</c>), the route table chooses a cluster (once per request) and an
/// endpoint, and the route's policies apply as on the gRPC path: fault injection, the route timeout (504) and retries to
/// other endpoints of the same cluster. No route gives 404 and no usable endpoint 503, as Envoy answers.
/// </summary>
internal sealed class MeshRoutingHandler(MeshTargetRegistry targets, TimeProvider time) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is not { IsAbsoluteUri: true } uri)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var target = targets.Get(uri.IsDefaultPort ? uri.Host : uri.Authority);
        await target.WaitForFirstUpdateAsync(cancellationToken).ConfigureAwait(false);

        if (target.State is not { } state)
        {
            return Answer(HttpStatusCode.ServiceUnavailable, target.Error ?? "no xDS configuration", request);
        }

        var headers = new HttpRequestHeaders(request);
        var index = state.Table.Match(uri.AbsolutePath, headers);
        if (index < 0)
        {
            Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlags.NoRoute);
            return Answer(HttpStatusCode.NotFound, RouteTable.NoRouteReason, request);
        }

        if (state.Table.Routes[index].Action is not { } action)
        {
            return Answer(HttpStatusCode.ServiceUnavailable, RouteTable.NonForwardingReason, request);
        }

        var policy = state.Policies[index];
        var cluster = RouteTable.ChooseCluster(action);

        // Faults first (A33): a delay, then an abort that never reaches the server.
        if (policy.Fault is { } fault && fault.TryEnter())
        {
            try
            {
                if (fault.DrawDelay(headers) is { } delay)
                {
                    Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlags.DelayInjected);
                    await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                }

                if (fault.DrawAbort(headers) is { } abort)
                {
                    Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlags.FaultInjected);
                    return Answer(HttpStatusCode.ServiceUnavailable, "fault filter abort: " + abort.StatusCode, request);
                }
            }
            finally
            {
                fault.Exit();
            }
        }

        using var timeout = policy.Timeout is { } routeTimeout ? new CancellationTokenSource(routeTimeout, time) : null;
        using var linked = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked?.Token ?? cancellationToken;
        var attempts = policy.Retry?.MaxAttempts ?? 1;
        var originalAuthority = uri.Authority;
        for (var attempt = 1; ; attempt++)
        {
            var pick = state.Table.PickInCluster(cluster, action, headers);
            if (pick.Member is not { } member)
            {
                MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickFail);
                Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlagsText.ForPickFailure(pick.IsDrop, pick.Failure));
                return Answer(HttpStatusCode.ServiceUnavailable, pick.Failure ?? "no endpoint is ready", request);
            }

            if (member.Tls is { } tls)
            {
                if (tls.Error is not null)
                {
                    member.Finish();
                    return Answer(HttpStatusCode.ServiceUnavailable, tls.Error, request);
                }

                request.Options.Set(Transport.MeshConnector.TlsOption, tls);
            }

            MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickComplete);
            request.Headers.Host ??= originalAuthority;
            request.RequestUri = new UriBuilder(uri) { Host = member.Endpoint.Host, Port = member.Endpoint.Port }.Uri;
            if (Telemetry.ClientCallTelemetry.Current is { } call)
            {
                call.Cluster = member.Cluster; // the attempt's destination_service / upstream_cluster
            }

            LoadReporting.LoadReportingHandler.Track(request, member.Load);
            member.Start();
            HttpResponseMessage? response = null;
            var retriable = false;
            try
            {
                response = await base.SendAsync(request, token).ConfigureAwait(false);
                member.RecordOutcome(success: (int)response.StatusCode < 500);
                retriable = policy.Retry is { } retry && IsRetriable(retry, response.StatusCode);
            }
            catch (HttpRequestException) when (RecordFailure(member))
            {
                throw; // never taken: RecordFailure returns false, so the failure is only counted here
            }
            catch (HttpRequestException) when (attempt < attempts && policy.Retry is { } retry && (retry.HttpConditions.Contains("connect-failure") || retry.HttpConditions.Contains("reset") || retry.RetryOn.Contains(Grpc.Core.StatusCode.Unavailable)))
            {
                retriable = true;
            }
            catch (OperationCanceledException) when (timeout?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
            {
                Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlags.UpstreamRequestTimeout);
                return Answer(HttpStatusCode.GatewayTimeout, "upstream request timeout", request);
            }
            finally
            {
                member.Finish();
            }

            if (!retriable || attempt >= attempts)
            {
                Telemetry.ClientCallTelemetry.Current?.AddFlag(retriable ? Telemetry.ResponseFlags.UpstreamRetryLimitExceeded : Telemetry.ResponseFlags.None);
                return response ?? Answer(HttpStatusCode.ServiceUnavailable, "upstream connect error", request);
            }

            response?.Dispose();
            await Task.Delay(RoutePolicy.Backoff(policy.Retry!, attempt - 1), time, token).ConfigureAwait(false);
        }
    }

    private static bool RecordFailure(ClusterMember member)
    {
        member.RecordOutcome(success: false);
        return false;
    }

    private static bool IsRetriable(Resources.RetryPolicyResource retry, HttpStatusCode status)
    {
        var code = (int)status;
        if (code < 500)
        {
            return false;
        }

        return retry.HttpConditions.Contains("5xx")
            || (retry.HttpConditions.Contains("gateway-error") && code is 502 or 503 or 504)
            || retry.RetryOn.Contains(FaultPolicy.FromHttp(code));
    }

    private static HttpResponseMessage Answer(HttpStatusCode status, string reason, HttpRequestMessage request) => new(status)
    {
        RequestMessage = request,
        ReasonPhrase = reason,
        Content = new StringContent("mesh: " + reason),
    };
}
