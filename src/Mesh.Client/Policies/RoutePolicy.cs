using System.Collections.Immutable;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Mesh.Client.Resources;
using Mesh.Client.Routing;
using Mesh.Xds;
using Polly;
using Polly.Retry;

namespace Mesh.Client.Policies;

/// <summary>
/// The policies of one route, compiled once when configuration arrives and run in this order by every call path: fault
/// delay, fault abort (A33), the route's timeout (A31), retries (A44) through <see cref="RetryPipeline"/>.
/// </summary>
/// <param name="Action">The route's action (its clusters), so retry attempts pick again in the call's cluster.</param>
/// <param name="Fault">Fault injection, if the route has any.</param>
/// <param name="Retry">The retry policy as configured.</param>
/// <param name="RetryPipeline">
/// Polly's result-based retry, run by both call paths: each path's <see cref="PolicyCall"/> in the resilience context
/// decides what is retried (gRPC: trailers-only statuses and connection errors; HTTP: Envoy's <c>retry_on</c>).
/// </param>
/// <param name="Timeout">The route's timeout (max_stream_duration, or grpc_timeout_header_max when set).</param>
internal sealed record RoutePolicy(RouteActionResource? Action, FaultPolicy? Fault, RetryPolicyResource? Retry, ResiliencePipeline<HttpResponseMessage>? RetryPipeline, TimeSpan? Timeout)
{
    public static RoutePolicy None { get; } = new(null, null, null, null, null);

    public bool IsEmpty => Fault is null && RetryPipeline is null && Timeout is null;

    /// <summary>
    /// The policy for calls sent to a weighted cluster that has its own typed_per_filter_config (gRFC A39: the
    /// weighted cluster's override wins over the route's and the virtual host's); empty when no cluster has one.
    /// </summary>
    public ImmutableArray<(string Cluster, RoutePolicy Policy)> ClusterPolicies { get; init; } = [];

    /// <summary>The policy for a call the route sends to <paramref name="cluster"/>: its own when it has overrides, else this one.</summary>
    public RoutePolicy ForCluster(string cluster)
    {
        foreach (var (name, policy) in ClusterPolicies)
        {
            if (string.Equals(name, cluster, StringComparison.Ordinal))
            {
                return policy;
            }
        }

        return this;
    }

    /// <summary>Compiles the policies of <paramref name="route"/> in <paramref name="config"/>; <see cref="None"/> when it has none.</summary>
    public static RoutePolicy Compile(XdsConfig config, RouteResource route, TimeProvider time)
    {
        var fault = EffectiveFault(config, route);
        var retry = route.Action?.Retry;
        ResiliencePipeline<HttpResponseMessage>? pipeline = null;
        ResiliencePipeline<HttpResponseMessage>? later = null;
        if (retry is { MaxAttempts: > 1 })
        {
            pipeline = BuildRetry(retry, time, retries: retry.MaxAttempts - 1, firstRetry: 0);
            later = retry.MaxAttempts > 2 ? BuildRetry(retry, time, retries: retry.MaxAttempts - 2, firstRetry: 1) : null;
        }

        var timeout = route.Action?.MaxStreamDuration;
        var policy = new RoutePolicy(route.Action, fault, retry, pipeline, timeout)
        {
            LaterAttemptsPipeline = later,
            TimeoutHeader = timeout is { } t ? MeshCallHandler.FormatTimeout(t) : null,
        };
        if (route.Action is { } action)
        {
            var perCluster = ImmutableArray.CreateBuilder<(string, RoutePolicy)>();
            foreach (var cluster in action.Clusters)
            {
                if (!cluster.FilterOverrides.IsEmpty)
                {
                    perCluster.Add((cluster.Name, policy with { Fault = EffectiveFault(config, route, cluster) }));
                }
            }

            policy = policy with { ClusterPolicies = perCluster.ToImmutable() };
        }

        return policy;
    }

    /// <summary>
    /// The retries after a first attempt that was made without Polly (the usual call succeeds at once and never enters a
    /// pipeline): <see cref="Retry"/>'s attempts minus two more, with the backoff continuing from the second retry. Null
    /// when the route allows only one retry (that one is made directly).
    /// </summary>
    public ResiliencePipeline<HttpResponseMessage>? LaterAttemptsPipeline { get; init; }

    /// <summary>The route timeout as a <c>grpc-timeout</c> value, formatted once.</summary>
    public string? TimeoutHeader { get; init; }

    private static ResiliencePipeline<HttpResponseMessage> BuildRetry(RetryPolicyResource retry, TimeProvider time, int retries, int firstRetry) =>
        new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = args => ValueTask.FromResult(PolicyCall.ShouldRetry(args.Context, args.Outcome, retry)),
                MaxRetryAttempts = retries,
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(Backoff(retry, firstRetry + args.AttemptNumber)),
            })
            .Build();

    /// <summary>A44: a random delay in [0, min(base × 2^n, max)].</summary>
    internal static TimeSpan Backoff(RetryPolicyResource retry, int attempt)
    {
        var ceiling = Math.Min(retry.BaseBackoff.Ticks * Math.Pow(2, attempt), retry.MaxBackoff.Ticks);
        return TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * ceiling));
    }

    /// <summary>
    /// A39: the most specific typed_per_filter_config for the fault filter wins: the weighted cluster's (when given),
    /// then the route's, then the virtual host's, then the listener's filter config.
    /// </summary>
    private static FaultPolicy? EffectiveFault(XdsConfig config, RouteResource route, WeightedClusterResource? cluster = null)
    {
        foreach (var filter in config.HttpFilters)
        {
            if (filter.TypeUrl != XdsTypeUrls.HttpFault)
            {
                continue;
            }

            var any = cluster is not null && cluster.FilterOverrides.TryGetValue(filter.Name, out var clusterOverride) ? clusterOverride
                : route.FilterOverrides.TryGetValue(filter.Name, out var routeOverride) ? routeOverride
                : config.VirtualHost.FilterOverrides.TryGetValue(filter.Name, out var hostOverride) ? hostOverride
                : filter.Config;
            if (any.TypeUrl == "type.googleapis.com/envoy.config.route.v3.FilterConfig")
            {
                var wrapper = any.Unpack<Envoy.Config.Route.V3.FilterConfig>();
                if (wrapper.Disabled || wrapper.Config is null)
                {
                    return null;
                }

                any = wrapper.Config;
            }

            return any.TypeUrl == XdsTypeUrls.HttpFault ? FaultPolicy.From(any.Unpack<HTTPFault>()) : null;
        }

        return null;
    }
}
