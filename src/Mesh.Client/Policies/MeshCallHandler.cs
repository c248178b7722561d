using System.Globalization;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Routing;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Policies;

/// <summary>
/// Runs a route's policies for every call of one <c>xds:///</c> channel, whichever way the channel was built
/// (<c>AddGrpcClient</c>, <c>UseMesh</c>, or a bare <c>GrpcChannelOptions { ServiceProvider = sp }</c>): the xDS
/// resolver factory installs it as the channel's HTTP handler, below Grpc.Net.Client's balancer. The balancer's picker
/// matched the route, chose the cluster and the first endpoint, and left the route's compiled <see cref="RoutePolicy"/>
/// on the request; here run fault delay, fault abort (A33), the route timeout (A31) and retries (A44) — each retry picks
/// again in the same cluster, replays the buffered request body and carries <c>grpc-previous-rpc-attempts</c> (A6). A
/// call commits when response headers arrive: a trailers-only response is the only kind that is retried. Unary and all
/// three streaming kinds go through the same code.
/// </summary>
internal sealed partial class MeshCallHandler : DelegatingHandler
{
    /// <summary>The compiled policies of the route the picker matched (set only when the route has some).</summary>
    public static readonly HttpRequestOptionsKey<RoutePolicy> PolicyKey = new("Mesh.RoutePolicy");

    /// <summary>The endpoint (in its cluster) the picker chose, when policies or outlier detection need it.</summary>
    public static readonly HttpRequestOptionsKey<ClusterMember> MemberKey = new("Mesh.ClusterMember");

    /// <summary>
    /// A measured call of a route without policies (set by the picker instead of the policies and member): it has one
    /// attempt, so the telemetry handler below measures and ends it, and this handler passes the call straight through.
    /// </summary>
    public static readonly HttpRequestOptionsKey<Telemetry.ClientCallTelemetry> CallKey = new("Mesh.Call");

    /// <summary>A6: how many attempts were made before this one.</summary>
    public const string PreviousAttemptsHeader = "grpc-previous-rpc-attempts";

    // Grpc.Net.Client's own request options (BalancerHttpHandler, 2.85): its connect callback takes the connection of
    // this subchannel. A retry attempt picked here sets them as the balancer does (pinned by a test).
    private static readonly HttpRequestOptionsKey<Subchannel> SubchannelKey = new("Subchannel");
    private static readonly HttpRequestOptionsKey<BalancerAddress> CurrentAddressKey = new("CurrentAddress");
    private const string TimeoutHeader = "grpc-timeout";

    private readonly ChannelPickers _pickers;
    private readonly TimeProvider _time;
    private readonly long _bufferLimit;
    private readonly ILogger _logger;

    public MeshCallHandler(HttpMessageHandler inner, ChannelPickers pickers, TimeProvider time, long bufferLimit, ILogger logger)
        : base(inner)
    {
        _pickers = pickers;
        _time = time;
        _bufferLimit = bufferLimit;
        _logger = logger;
    }

    /// <summary>
    /// The handler the application set in the channel options (null: none), from which a channel built later from the
    /// same options starts again.
    /// </summary>
    public HttpMessageHandler? ApplicationHandler { get; init; }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        _pickers.Telemetry is { Observing: true } telemetry && !request.Options.TryGetValue(CallKey, out _)
            ? SendTrackedAsync(request, telemetry, cancellationToken)
            : SendCoreAsync(request, cancellationToken);

    /// <summary>
    /// One call as Istio counts it (reporter=source, once per call): made <see cref="Telemetry.ClientCallTelemetry.Current"/>
    /// for the call's flow so the policies below flag it and the telemetry handler below reports each attempt to it.
    /// </summary>
    private async Task<HttpResponseMessage> SendTrackedAsync(HttpRequestMessage request, Telemetry.ClientTelemetry telemetry, CancellationToken cancellationToken)
    {
        var call = new Telemetry.ClientCallTelemetry(telemetry, _pickers.Target, Telemetry.IstioLabels.Grpc)
        {
            Method = request.RequestUri?.AbsolutePath,
            Target = _pickers.GrpcTarget,
            Cluster = request.Options.TryGetValue(MemberKey, out var member) ? member.Cluster : null,
        };
        Telemetry.ClientCallTelemetry.Current = call; // this async method's flow only: reverted when it returns
        var start = _time.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await SendCoreAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Grpc.Net.Client cancels the request at the caller's deadline, or when the caller cancels.
            var deadline = CallerTimeout(request) is var callerTimeout && callerTimeout != TimeSpan.MaxValue && _time.GetElapsedTime(start) >= callerTimeout;
            call.End(deadline ? (int)StatusCode.DeadlineExceeded : (int)StatusCode.Cancelled, httpStatus: null);
            throw;
        }
        catch (Exception)
        {
            call.End((int)StatusCode.Unavailable, httpStatus: null);
            throw;
        }

        // A trailers-only response ends the call now; otherwise its status is the last attempt's, read from its trailers.
        call.End(GrpcCallState.TrailersOnlyStatus(response) is { } status ? (int)status : null, httpStatus: null);
        return response;
    }

    private Task<HttpResponseMessage> SendCoreAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Options.TryGetValue(PolicyKey, out var policy))
        {
            return SendWithPolicyAsync(request, policy, cancellationToken);
        }

        if (request.Options.TryGetValue(MemberKey, out var member))
        {
            return ObserveAsync(request, member, cancellationToken);
        }

        return base.SendAsync(request, cancellationToken); // a route without policies: nothing to add per call
    }

    /// <summary>A call without route policies to a cluster with outlier detection: its status is reported.</summary>
    private async Task<HttpResponseMessage> ObserveAsync(HttpRequestMessage request, ClusterMember member, CancellationToken cancellationToken)
    {
        var response = await AttemptAsync(request, member, attempt: 1, picked: false, perTry: null, cancellationToken).ConfigureAwait(false);
        return Committed(response, member, attempt: 1, timeout: null, linked: null);
    }

    private async Task<HttpResponseMessage> SendWithPolicyAsync(HttpRequestMessage request, RoutePolicy policy, CancellationToken cancellationToken)
    {
        request.Options.TryGetValue(MemberKey, out var first);
        var buffer = policy.RetryPipeline is not null && request.Content is not null ? new RequestBuffer(request.Content, _bufferLimit) : null;
        using var state = new GrpcCallState(this, request, policy, first, buffer);
        if (first is not null)
        {
            first.Start(); // the balancer's pick: its slot is held until the first attempt ends
            state.FirstOpen = true;
        }

        CancellationTokenSource? timeout = null;
        CancellationTokenSource? linked = null;
        var handedOver = false;
        try
        {
            // 1, 2. Faults (A33): a delay (the caller's deadline still applies: Grpc.Net.Client cancels us), then an
            // abort that never reaches the server.
            if (policy.Fault is { } fault && await fault.ApplyAsync(new HttpRequestHeaders(request), _time, cancellationToken).ConfigureAwait(false) is { } abort)
            {
                AttemptEnded(first, 0, abort.GrpcStatus);
                first?.Load?.Cluster.RecordDrop(); // load reporting: a call the fault filter failed locally is dropped, never sent
                return TrailersOnly(request, abort.GrpcStatus, FaultPolicy.AbortMessage);
            }

            // 3. The route timeout (A31), when it is shorter than the caller's own deadline; the server learns it too.
            if (policy.Timeout is { } routeTimeout && routeTimeout < CallerTimeout(request))
            {
                timeout = new CancellationTokenSource(routeTimeout, _time);
                linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                request.Headers.Remove(TimeoutHeader);
                request.Headers.TryAddWithoutValidation(TimeoutHeader, policy.TimeoutHeader ?? FormatTimeout(routeTimeout));
            }

            var token = linked?.Token ?? cancellationToken;
            HttpResponseMessage response;

            // 4. Retries (A44): the first attempt directly (most calls end there), the rest through the route's Polly
            // pipeline, deciding on results (trailers-only statuses).
            if (policy.RetryPipeline is not null)
            {
                var retry = policy.Retry!;
                HttpResponseMessage? initial = null;
                try
                {
                    // Attempt 1 on the balancer's pick, awaited here rather than through RetryAttemptAsync (one state
                    // machine less per call); its slot is released before any retry picks.
                    state.Attempts = 1;
                    state.Last = first;
                    if (buffer is not null)
                    {
                        request.Content = buffer.CreateAttempt(1, state.NextAttemptToken());
                    }

                    initial = await AttemptAsync(request, first, attempt: 1, picked: false, retry.PerTryTimeout, token).ConfigureAwait(false);
                }
                catch (HttpRequestException e) when (GrpcCallState.IsRetriable(state, null, e, retry, token))
                {
                    // retried below, as Polly would
                }
                finally
                {
                    state.FinishFirst();
                }

                if (initial is not null && !GrpcCallState.IsRetriable(state, initial, null, retry, token))
                {
                    response = initial;
                }
                else
                {
                    initial?.Dispose(); // as Polly disposes an outcome it retries
                    await Task.Delay(RoutePolicy.Backoff(retry, 0), _time, token).ConfigureAwait(false);
                    response = await LaterAttemptsAsync(state, policy, token).ConfigureAwait(false);
                }

                buffer?.Commit();
                if (state.Attempts >= policy.Retry!.MaxAttempts && GrpcCallState.TrailersOnlyStatus(response) is { } last && policy.Retry.RetryOn.Contains(last))
                {
                    Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlags.UpstreamRetryLimitExceeded);
                }
            }
            else
            {
                state.Attempts = 1;
                state.Last = first;
                try
                {
                    response = await AttemptAsync(request, first, attempt: 1, picked: false, policy.Retry?.PerTryTimeout, token).ConfigureAwait(false);
                }
                finally
                {
                    state.FinishFirst();
                }
            }

            handedOver = GrpcCallState.TrailersOnlyStatus(response) is null;
            return Committed(response, state.Last, state.Attempts, timeout, linked);
        }
        catch (OperationCanceledException) when (timeout?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlags.UpstreamRequestTimeout);
            AttemptEnded(state.Last, state.Attempts, StatusCode.DeadlineExceeded);
            return TrailersOnly(request, StatusCode.DeadlineExceeded, "Deadline Exceeded (route timeout)");
        }
        finally
        {
            state.FinishFirst();
            if (!handedOver)
            {
                linked?.Dispose();
                timeout?.Dispose();
            }
        }
    }

    /// <summary>Attempts after the first: through the route's pipeline when more than one may follow, else the one directly.</summary>
    private Task<HttpResponseMessage> LaterAttemptsAsync(GrpcCallState state, RoutePolicy policy, CancellationToken cancellationToken) =>
        policy.LaterAttemptsPipeline is { } pipeline ? state.ExecuteAsync(pipeline, cancellationToken) : RetryAttemptAsync(state, cancellationToken);

    /// <summary>One attempt of a call that may be retried: the first uses the balancer's pick, later ones pick again.</summary>
    internal async Task<HttpResponseMessage> RetryAttemptAsync(GrpcCallState state, CancellationToken cancellationToken)
    {
        var attempt = ++state.Attempts;
        var request = state.Request;
        var member = state.First;
        var picked = false;
        if (attempt > 1)
        {
            request.Headers.Remove(PreviousAttemptsHeader);
            request.Headers.TryAddWithoutValidation(PreviousAttemptsHeader, (attempt - 1).ToString(CultureInfo.InvariantCulture));
            var (next, failure, drop) = await PickAgainAsync(state, cancellationToken).ConfigureAwait(false);
            if (next is null)
            {
                state.CanRetry &= !drop; // A32: a circuit-breaker drop is never retried
                Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlagsText.ForPickFailure(drop, failure));
                AttemptEnded(null, attempt, StatusCode.Unavailable);
                return TrailersOnly(request, StatusCode.Unavailable, failure!);
            }

            member = next;
            picked = true;
        }

        state.Last = member;
        if (state.Buffer is { } buffer)
        {
            request.Content = buffer.CreateAttempt(attempt, state.NextAttemptToken());
        }

        try
        {
            return await AttemptAsync(request, member, attempt, picked, state.Policy.Retry?.PerTryTimeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (!picked)
            {
                state.FinishFirst();
            }
        }
    }

    /// <summary>
    /// The one place every attempt passes: it starts here (cluster and endpoint known) and ends here when the response
    /// is trailers-only or the connection failed, or in <see cref="ObservedContent"/> when the body ends.
    /// </summary>
    private async Task<HttpResponseMessage> AttemptAsync(HttpRequestMessage request, ClusterMember? member, int attempt, bool picked, TimeSpan? perTry, CancellationToken cancellationToken)
    {
        if (picked)
        {
            member!.Start();
        }

        var perTryTimeout = perTry is { } t ? new CancellationTokenSource(t, _time) : null;
        var linked = perTryTimeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, perTryTimeout.Token);
        try
        {
            var response = await base.SendAsync(request, linked?.Token ?? cancellationToken).ConfigureAwait(false);
            if (GrpcCallState.TrailersOnlyStatus(response) is { } status)
            {
                member?.RecordOutcome(status == StatusCode.OK);
                AttemptEnded(member, attempt, status);
            }

            return response;
        }
        catch (HttpRequestException)
        {
            member?.RecordOutcome(success: false);
            AttemptEnded(member, attempt, StatusCode.Unavailable);
            throw;
        }
        catch (OperationCanceledException) when (perTryTimeout?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            member?.RecordOutcome(success: false);
            AttemptEnded(member, attempt, StatusCode.DeadlineExceeded);
            return TrailersOnly(request, StatusCode.DeadlineExceeded, "Deadline Exceeded (per-try timeout)");
        }
        finally
        {
            if (picked)
            {
                member!.Finish();
            }

            linked?.Dispose();
            perTryTimeout?.Dispose();
        }
    }

    /// <summary>An attempt ended with <paramref name="status"/> (attempt 0: the call ended before any attempt, e.g. a fault).</summary>
    internal void AttemptEnded(ClusterMember? member, int attempt, StatusCode status) =>
        Log.AttemptEnded(_logger, attempt, member?.Cluster, member?.Endpoint, status);

    /// <summary>A retry attempt's endpoint: picked again in the call's cluster, waiting (within the deadline) while endpoints connect.</summary>
    private async Task<(ClusterMember? Member, string? Failure, bool Drop)> PickAgainAsync(GrpcCallState state, CancellationToken cancellationToken)
    {
        var request = state.Request;
        if (state.First is not { } first || state.Policy.Action is not { } action)
        {
            return (null, "the call's cluster is unknown", false);
        }

        while (true)
        {
            if (_pickers.Current is { } picker)
            {
                var pick = picker.Table.PickInCluster(first.Cluster, action, new HttpRequestHeaders(request));
                if (pick.Member is { Endpoint.Subchannel: { } subchannel } member)
                {
                    if (member.Tls is { Error: { } error })
                    {
                        member.Finish();
                        return (null, error, false);
                    }

                    var address = subchannel.CurrentAddress ?? new BalancerAddress(member.Endpoint.Host, member.Endpoint.Port);
                    EndpointRequestUri.Apply(request, request.RequestUri!, address.EndPoint);
                    request.Options.Set(SubchannelKey, subchannel);
                    request.Options.Set(CurrentAddressKey, address);
                    LoadReporting.LoadReportingHandler.Track(request, member.Load);
                    if (member.Tls is { } tls)
                    {
                        request.Options.Set(Transport.MeshConnector.TlsOption, tls);
                    }
                    else
                    {
                        ((IDictionary<string, object?>)request.Options).Remove("Mesh.ClusterTls");
                    }

                    return (member, null, false);
                }

                if (!pick.IsWait)
                {
                    return (null, pick.Failure, pick.IsDrop);
                }
            }

            await _pickers.WaitForChangeAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The response the caller gets: watched to its end when its status matters (outlier detection, timeout).</summary>
    private HttpResponseMessage Committed(HttpResponseMessage response, ClusterMember? member, int attempt, CancellationTokenSource? timeout, CancellationTokenSource? linked)
    {
        if (GrpcCallState.TrailersOnlyStatus(response) is not null || response.Content is null)
        {
            return response;
        }

        response.Content = new ObservedContent(this, response, member, attempt, timeout, linked);
        return response;
    }

    /// <summary>A trailers-only gRPC response made here: the call ends with <paramref name="code"/> without reaching a server.</summary>
    internal static HttpResponseMessage TrailersOnly(HttpRequestMessage request, StatusCode code, string message)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK)
        {
            RequestMessage = request,
            Version = HttpVersion.Version20,
            Content = new ByteArrayContent([]),
        };
        response.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
        response.Headers.TryAddWithoutValidation("grpc-status", ((int)code).ToString(CultureInfo.InvariantCulture));
        response.Headers.TryAddWithoutValidation("grpc-message", Uri.EscapeDataString(message));
        return response;
    }

    /// <summary>The caller's timeout from its <c>grpc-timeout</c> header (none: infinite).</summary>
    internal static TimeSpan CallerTimeout(HttpRequestMessage request)
    {
        if (!request.Headers.NonValidated.TryGetValues(TimeoutHeader, out var values))
        {
            return TimeSpan.MaxValue;
        }

        var text = values.ToString();
        if (text.Length < 2 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return TimeSpan.MaxValue;
        }

        return text[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => TimeSpan.MaxValue,
        };
    }

    /// <summary>A timeout as a <c>grpc-timeout</c> value (at most eight digits).</summary>
    internal static string FormatTimeout(TimeSpan timeout)
    {
        var ms = (long)Math.Ceiling(timeout.TotalMilliseconds);
        return ms <= 99_999_999
            ? ms.ToString(CultureInfo.InvariantCulture) + "m"
            : Math.Min((long)Math.Ceiling(timeout.TotalSeconds), 99_999_999).ToString(CultureInfo.InvariantCulture) + "S";
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Attempt {Attempt} (cluster {Cluster}, endpoint {Endpoint}) ended with {Status}.")]
        public static partial void AttemptEnded(ILogger logger, int attempt, string? cluster, EndpointState? endpoint, StatusCode status);
    }
}
