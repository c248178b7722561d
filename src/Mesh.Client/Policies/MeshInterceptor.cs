using Grpc.Core;
using Grpc.Core.Interceptors;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Routing;

namespace Mesh.Client.Policies;

/// <summary>gRPC metadata as routing sees headers: lower-case names, binary headers never match, values joined with ",".</summary>
internal readonly struct MetadataHeaders(Metadata? metadata) : IRequestHeaders
{
    public string? Get(string name)
    {
        if (metadata is null || name.EndsWith("-bin", StringComparison.Ordinal))
        {
            return name == "content-type" ? "application/grpc" : null;
        }

        string? found = null;
        for (var i = 0; i < metadata.Count; i++) // by index: Metadata's enumerator is boxed
        {
            var entry = metadata[i];
            if (!entry.IsBinary && entry.Key == name)
            {
                found = found is null ? entry.Value : found + "," + entry.Value;
            }
        }

        return found ?? (name == "content-type" ? "application/grpc" : null);
    }
}

/// <summary>
/// Applies a route's policies to calls on an <c>xds:///</c> channel, above the balancer (Grpc.Net.Client takes method
/// config only when a channel is built): fault injection (A33), the route's max stream duration as a deadline when it is
/// the smaller one (A31), and retries (A44) through the route's Polly pipeline, every attempt picked anew within the
/// cluster chosen for the call. Unary and server-streaming calls get all three (a stream is retried only until its
/// first response arrives); other streaming kinds get routing and balancing only.
/// </summary>
internal sealed class MeshInterceptor(MeshTarget target, TimeProvider time) : Interceptor
{
    private const string DropTrailer = "grpc-internal-drop-request";

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        Plan plan = default;
        var planned = target.State is not null;
        if (planned && !TryPlan(context, out plan))
        {
            return continuation(request, context);
        }

        if (planned && plan.Policy.Fault is null && plan.Policy.RetryPipeline is null && !plan.ReportsOutcome)
        {
            // Nothing to do once the call is under way, and nothing here depends on which cluster the call goes to: the
            // picker matches the route and chooses the cluster itself (same route, same weights), so no call context is
            // pinned (setting an AsyncLocal costs an execution-context copy per call). The channel's own call is
            // returned, unwrapped, with the route's deadline.
            return continuation(request, WithDeadline(context, plan.Deadline));
        }

        // Per call: one attempts object and one async state machine when the route has no fault and no retries but an
        // outcome to report; the AsyncUnaryCall takes static callbacks over the attempts object (no closures), and
        // headers are awaited only when the caller asks for them.
        var attempts = new UnaryAttempts<TResponse>();
        attempts.Response = !planned ? WaitThenRunUnaryAsync(request, context, continuation, attempts)
            : plan.Policy.Fault is null && plan.Policy.RetryPipeline is null ? AttemptAsync(request, context, continuation, plan, attempts, retriable: false)
            : RunUnaryAsync(request, context, continuation, plan, attempts);
        return new AsyncUnaryCall<TResponse>(
            attempts.Response,
            UnaryAttempts<TResponse>.HeadersOf,
            UnaryAttempts<TResponse>.StatusOf,
            UnaryAttempts<TResponse>.TrailersOf,
            UnaryAttempts<TResponse>.DisposeOf,
            attempts);
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        if (target.State is null || !TryPlan(context, out var plan))
        {
            return continuation(request, context);
        }

        if (plan.Policy.Fault is null && plan.Policy.RetryPipeline is null)
        {
            var previous = MeshCallContext.Current;
            MeshCallContext.Current = plan.Call;
            try
            {
                return continuation(request, WithDeadline(context, plan.Deadline));
            }
            finally
            {
                MeshCallContext.Current = previous;
            }
        }

        // Faults and retries happen before the stream is handed over: the reader reads once a call is committed.
        var started = StartStreamingAsync(request, context, continuation, plan);
        return new AsyncServerStreamingCall<TResponse>(
            new DeferredStreamReader<TResponse>(started),
            HeadersAsync(started),
            () => started.IsCompletedSuccessfully ? started.Result.Call.GetStatus() : StatusOf(started),
            () => started.IsCompletedSuccessfully ? started.Result.Call.GetTrailers() : [],
            () =>
            {
                if (started.IsCompletedSuccessfully)
                {
                    started.Result.Call.Dispose();
                }
            });
    }

    /// <summary>A started stream, with its first message already read when retries needed to look at it.</summary>
    private sealed record StartedStream<T>(AsyncServerStreamingCall<T> Call, bool Buffered, bool HasFirst);

    private async Task<StartedStream<TResponse>> StartStreamingAsync<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation,
        Plan plan)
        where TRequest : class
        where TResponse : class
    {
        var cancellation = context.Options.CancellationToken;
        if (plan.Policy.Fault is { } fault && fault.TryEnter())
        {
            try
            {
                if (fault.DrawDelay(plan.Headers) is { } delay)
                {
                    await DelayWithinDeadlineAsync(delay, plan.Deadline, new UnaryAttempts<TResponse>(), cancellation).ConfigureAwait(false);
                }

                if (fault.DrawAbort(plan.Headers) is { } abort)
                {
                    throw new RpcException(abort);
                }
            }
            finally
            {
                fault.Exit();
            }
        }

        var maxAttempts = plan.Policy.RetryPipeline is null ? 1 : plan.Policy.Retry!.MaxAttempts;
        for (var attempt = 1; ; attempt++)
        {
            AsyncServerStreamingCall<TResponse> call;
            var previous = MeshCallContext.Current;
            MeshCallContext.Current = plan.Call;
            try
            {
                call = continuation(request, WithDeadline(context, plan.Deadline));
            }
            finally
            {
                MeshCallContext.Current = previous;
            }

            if (attempt >= maxAttempts)
            {
                return new StartedStream<TResponse>(call, Buffered: false, HasFirst: false);
            }

            // A44: a stream may be retried until response headers arrive. Reading the first message tells without a
            // race: a failure whose trailers are its headers was trailers-only (no headers), so not yet committed.
            try
            {
                var hasFirst = await call.ResponseStream.MoveNext(cancellation).ConfigureAwait(false);
                return new StartedStream<TResponse>(call, Buffered: true, HasFirst: hasFirst);
            }
            catch (RpcException ex) when (plan.Policy.Retry!.RetryOn.Contains(ex.StatusCode)
                && call.ResponseHeadersAsync.IsCompletedSuccessfully
                && IsTrailersOnly(call.ResponseHeadersAsync.Result, call.GetTrailers())
                && (plan.Deadline is not { } deadline || time.GetUtcNow().UtcDateTime < deadline.ToUniversalTime()))
            {
                call.Dispose();
            }

            await Task.Delay(MeshTarget.Backoff(plan.Policy.Retry!, attempt - 1), time, cancellation).ConfigureAwait(false);
        }
    }

    private static async Task<Metadata> HeadersAsync<TResponse>(Task<StartedStream<TResponse>> started) =>
        await (await started.ConfigureAwait(false)).Call.ResponseHeadersAsync.ConfigureAwait(false);

    private static Status StatusOf<TResponse>(Task<StartedStream<TResponse>> started) =>
        started.Exception?.InnerException is RpcException error ? error.Status : throw new InvalidOperationException("the call has not completed");

    /// <summary>A response stream that reads once the real call is started, first replaying a message read early.</summary>
    private sealed class DeferredStreamReader<T>(Task<StartedStream<T>> started) : IAsyncStreamReader<T>
    {
        private bool _replayed;

        public T Current => started.Result.Call.ResponseStream.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            var stream = await started.ConfigureAwait(false);
            if (stream.Buffered && !_replayed)
            {
                _replayed = true;
                return stream.HasFirst;
            }

            return await stream.Call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>What a call will do: its route's policies, the cluster, the deadline, and whether its outcome feeds outlier detection.</summary>
    private readonly record struct Plan(RoutePolicy Policy, MeshCallContext Call, DateTime? Deadline, MetadataHeaders Headers, bool ReportsOutcome);

    private bool TryPlan<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context, out Plan plan)
        where TRequest : class
        where TResponse : class
    {
        plan = default;
        if (target.State is not { } state)
        {
            return false; // no configuration yet: the channel's picker waits for it
        }

        var headers = new MetadataHeaders(context.Options.Headers);
        var index = state.Table.Match(context.Method.FullName, headers);
        if (index < 0 || state.Table.Routes[index].Action is not { } action)
        {
            return false; // the picker fails the call with the reason
        }

        var policy = state.Policies[index];
        var deadline = context.Options.Deadline;
        if (policy.Timeout is { } timeout)
        {
            var routeDeadline = time.GetUtcNow().UtcDateTime + timeout;
            if (deadline is null || routeDeadline < deadline.Value.ToUniversalTime())
            {
                deadline = routeDeadline;
            }
        }

        var cluster = RouteTable.ChooseCluster(action);
        plan = new Plan(policy, new MeshCallContext(action, cluster), deadline, headers, state.OutlierClusters.Contains(cluster));
        return true;
    }

    /// <summary>The first calls wait (within their deadline) for the target's configuration, so policies apply from the start.</summary>
    private async Task<TResponse> WaitThenRunUnaryAsync<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation,
        UnaryAttempts<TResponse> attempts)
        where TRequest : class
        where TResponse : class
    {
        var wait = TimeSpan.FromSeconds(15);
        if (context.Options.Deadline is { } deadline && deadline != DateTime.MaxValue)
        {
            wait = deadline.ToUniversalTime() - time.GetUtcNow().UtcDateTime;
        }

        try
        {
            await target.FirstUpdate.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, time, context.Options.CancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // No configuration in time: the call goes on and the channel reports what it knows.
        }

        if (!TryPlan(context, out var plan))
        {
            var call = continuation(request, context);
            attempts.Current = call;
            return await call.ResponseAsync.ConfigureAwait(false);
        }

        return await RunUnaryAsync(request, context, continuation, plan, attempts).ConfigureAwait(false);
    }

    private async Task<TResponse> RunUnaryAsync<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation,
        Plan plan,
        UnaryAttempts<TResponse> attempts)
        where TRequest : class
        where TResponse : class
    {
        var cancellation = context.Options.CancellationToken;
        if (plan.Policy.Fault is { } fault && fault.TryEnter())
        {
            try
            {
                if (fault.DrawDelay(plan.Headers) is { } delay)
                {
                    Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlags.DelayInjected); // telemetry hook
                    await DelayWithinDeadlineAsync(delay, plan.Deadline, attempts, cancellation).ConfigureAwait(false);
                }

                if (fault.DrawAbort(plan.Headers) is { } abort)
                {
                    Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlags.FaultInjected); // telemetry hook
                    attempts.Status = abort;
                    throw new RpcException(abort);
                }
            }
            finally
            {
                fault.Exit();
            }
        }

        if (plan.Policy.RetryPipeline is not { } pipeline)
        {
            return await AttemptAsync(request, context, continuation, plan, attempts, retriable: false).ConfigureAwait(false);
        }

        try
        {
            return await pipeline.ExecuteAsync(
                static async (state, _) => await state.Self.AttemptAsync(state.Request, state.Context, state.Continuation, state.Plan, state.Attempts, retriable: true).ConfigureAwait(false),
                (Self: this, Request: request, Context: context, Continuation: continuation, Plan: plan, Attempts: attempts),
                cancellation).ConfigureAwait(false);
        }
        catch (RetriableAttemptException ex)
        {
            Telemetry.ClientCallTelemetry.Current?.AddFlag(Telemetry.ResponseFlags.UpstreamRetryLimitExceeded); // telemetry hook
            throw ex.Error; // retries exhausted: the caller sees the last attempt's status
        }
    }

    private async Task<TResponse> AttemptAsync<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation,
        Plan plan,
        UnaryAttempts<TResponse> attempts,
        bool retriable)
        where TRequest : class
        where TResponse : class
    {
        var deadline = plan.Deadline;
        if (plan.Policy.Retry?.PerTryTimeout is { } perTry)
        {
            var tryDeadline = time.GetUtcNow().UtcDateTime + perTry;
            if (deadline is null || tryDeadline < deadline.Value.ToUniversalTime())
            {
                deadline = tryDeadline;
            }
        }

        AsyncUnaryCall<TResponse> call;
        var previous = MeshCallContext.Current;
        MeshCallContext.Current = plan.Call;
        try
        {
            call = continuation(request, WithDeadline(context, deadline));
        }
        finally
        {
            MeshCallContext.Current = previous;
        }

        attempts.Current?.Dispose();
        attempts.Current = call;
        try
        {
            var response = await call.ResponseAsync.ConfigureAwait(false);
            plan.Call.Member?.RecordOutcome(success: true);
            return response;
        }
        catch (RpcException ex)
        {
            // A50: the outcome counts against the endpoint that served the attempt (not against drops, which had none).
            plan.Call.Member?.RecordOutcome(success: false);
            plan.Call.Member = null;
            if (retriable && IsRetriable(ex, call, plan))
            {
                throw new RetriableAttemptException(ex);
            }

            throw;
        }
    }

    private bool IsRetriable<TResponse>(RpcException error, AsyncUnaryCall<TResponse> call, Plan plan)
    {
        if (!plan.Policy.Retry!.RetryOn.Contains(error.StatusCode) || error.Trailers.GetValue(DropTrailer) is not null)
        {
            return false; // not a listed status, or dropped by the circuit breaker (A32: never retried)
        }

        if (call.ResponseHeadersAsync.IsCompletedSuccessfully && !IsTrailersOnly(call.ResponseHeadersAsync.Result, call.GetTrailers()))
        {
            return false; // A44: once response headers arrived the call is committed
        }

        return plan.Deadline is not { } deadline || time.GetUtcNow().UtcDateTime < deadline.ToUniversalTime();
    }

    /// <summary>
    /// Whether the response was trailers-only (no response headers, so the call is not committed). Grpc.Net.Client
    /// reports such a response's headers as both its headers and its trailers; after real headers, the trailers differ.
    /// </summary>
    private static bool IsTrailersOnly(Metadata headers, Metadata trailers)
    {
        if (headers.Count != trailers.Count)
        {
            return false;
        }

        for (var i = 0; i < headers.Count; i++)
        {
            if (headers[i].Key != trailers[i].Key || (!headers[i].IsBinary && headers[i].Value != trailers[i].Value))
            {
                return false;
            }
        }

        return true;
    }

    private async Task DelayWithinDeadlineAsync<TResponse>(TimeSpan delay, DateTime? deadline, UnaryAttempts<TResponse> attempts, CancellationToken cancellation)
    {
        if (deadline is { } d)
        {
            var left = d.ToUniversalTime() - time.GetUtcNow().UtcDateTime;
            if (left < delay)
            {
                await Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero, time, cancellation).ConfigureAwait(false);
                attempts.Status = new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded");
                throw new RpcException(attempts.Status);
            }
        }

        await Task.Delay(delay, time, cancellation).ConfigureAwait(false);
    }

    private static ClientInterceptorContext<TRequest, TResponse> WithDeadline<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context, DateTime? deadline)
        where TRequest : class
        where TResponse : class =>
        deadline == context.Options.Deadline
            ? context
            : new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithDeadline(deadline ?? DateTime.MaxValue));

    /// <summary>The attempts of one unary call: the current one answers status, trailers and disposal.</summary>
    private sealed class UnaryAttempts<TResponse>
    {
        public static readonly Func<object, Task<Metadata>> HeadersOf = static state => ((UnaryAttempts<TResponse>)state).Headers();

        public static readonly Func<object, Status> StatusOf = static state =>
            ((UnaryAttempts<TResponse>)state) is var attempts && attempts.Current is { } current ? current.GetStatus() : attempts.Status;

        public static readonly Func<object, Metadata> TrailersOf = static state => ((UnaryAttempts<TResponse>)state).Current?.GetTrailers() ?? [];

        public static readonly Action<object> DisposeOf = static state => ((UnaryAttempts<TResponse>)state).Current?.Dispose();

        private Task<Metadata>? _headers;

        public AsyncUnaryCall<TResponse>? Current { get; set; }

        public Status Status { get; set; } = Status.DefaultSuccess;

        /// <summary>The call's response; set right after the call starts, before the caller can ask for headers.</summary>
        public Task<TResponse> Response { get; set; } = null!;

        private Task<Metadata> Headers() => _headers ??= HeadersAsync(Response);

        private async Task<Metadata> HeadersAsync(Task<TResponse> response)
        {
            try
            {
                await response.ConfigureAwait(false);
            }
            catch (RpcException) when (Current is null)
            {
                return [];
            }
            catch (RpcException)
            {
            }

            return Current is null ? [] : await Current.ResponseHeadersAsync.ConfigureAwait(false);
        }
    }
}

/// <summary>Creates the interceptors of <c>xds:///</c> channels.</summary>
internal sealed class MeshInterceptorFactory(MeshTargetRegistry targets, TimeProvider time)
{
    public Interceptor Create(Uri? address)
    {
        if (address?.Scheme != "xds")
        {
            return PassThrough.Instance;
        }

        var name = address.AbsolutePath.TrimStart('/');
        return new MeshInterceptor(targets.Get(Uri.UnescapeDataString(string.IsNullOrEmpty(name) ? address.Authority : name)), time);
    }

    private sealed class PassThrough : Interceptor
    {
        public static readonly PassThrough Instance = new();
    }
}
