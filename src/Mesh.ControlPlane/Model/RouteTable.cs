using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>The HTTP routing rules for one host, in order: the first rule that matches a request wins.</summary>
/// <param name="Host">The fully qualified host the rules apply to.</param>
/// <param name="Rules">The rules, in order.</param>
/// <param name="DeclaredBy">The resource they came from, for messages.</param>
public sealed record RouteTable(string Host, ImmutableArray<HttpRouteRule> Rules, string DeclaredBy);

/// <summary>One rule: when any of <see cref="Matches"/> holds (or there are none), send to <see cref="Destinations"/>.</summary>
public sealed record HttpRouteRule
{
    /// <summary>The rule's name, if it has one.</summary>
    public string? Name { get; init; }

    /// <summary>Alternative conditions; the rule applies when any holds, or always when empty.</summary>
    public ImmutableArray<RequestMatch> Matches { get; init; } = [];

    /// <summary>Where matching requests go, with relative weights (Istio's weights need not sum to 100).</summary>
    public required ImmutableArray<WeightedDestination> Destinations { get; init; }

    /// <summary>The whole-request timeout, if any.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>The retry policy, if any.</summary>
    public RetryPolicy? Retries { get; init; }

    /// <summary>The fault to inject, if any.</summary>
    public FaultPolicy? Fault { get; init; }

    /// <summary>A redirect answered instead of forwarding, if any (then <see cref="Destinations"/> is empty).</summary>
    public RedirectPolicy? Redirect { get; init; }

    /// <summary>A fixed response answered instead of forwarding, if any (then <see cref="Destinations"/> is empty).</summary>
    public DirectResponsePolicy? DirectResponse { get; init; }

    /// <summary>How forwarded requests are rewritten, if at all.</summary>
    public RewritePolicy? Rewrite { get; init; }

    /// <summary>The header changes of the rule (every destination's come on top), if any.</summary>
    public HeaderManipulation? Headers { get; init; }

    /// <summary>Where copies of matching requests go.</summary>
    public ImmutableArray<MirrorPolicy> Mirrors { get; init; } = [];

    /// <summary>The CORS policy, if any.</summary>
    public CorsPolicyModel? Cors { get; init; }
}

/// <summary>How a string is compared.</summary>
public enum StringMatchKind
{
    /// <summary>Equal to the value.</summary>
    Exact,

    /// <summary>Starts with the value.</summary>
    Prefix,

    /// <summary>Fully matches the RE2 regular expression.</summary>
    Regex,
}

/// <summary>A string condition.</summary>
public sealed record StringCondition(StringMatchKind Kind, string Value);

/// <summary>A header condition; <see cref="Condition"/> null means "present", <see cref="Invert"/> negates.</summary>
public sealed record HeaderCondition(string Name, StringCondition? Condition, bool Invert);

/// <summary>One set of conditions that must all hold.</summary>
public sealed record RequestMatch
{
    /// <summary>The condition on the path, if any.</summary>
    public StringCondition? Uri { get; init; }

    /// <summary>Whether <see cref="Uri"/> ignores case.</summary>
    public bool IgnoreUriCase { get; init; }

    /// <summary>The conditions on headers (the method is the <c>:method</c> header).</summary>
    public ImmutableArray<HeaderCondition> Headers { get; init; } = [];

    /// <summary>The service port this match is restricted to, if any.</summary>
    public int? Port { get; init; }

    /// <summary>
    /// Conditions on query parameters (<c>queryParams</c>). Proxyless clients cannot evaluate them, so for them a
    /// match that has any never matches (as gRFC A28 does); proxies evaluate them.
    /// </summary>
    public ImmutableArray<QueryParameterCondition> QueryParameters { get; init; } = [];

    /// <summary>The condition on the URI scheme, if any. Proxyless clients cannot evaluate it: the match never matches for them.</summary>
    public StringCondition? Scheme { get; init; }

    /// <summary>The labels the calling workload must have (<c>sourceLabels</c>), if any; known per client at translation time.</summary>
    public ImmutableDictionary<string, string>? SourceLabels { get; init; }

    /// <summary>The namespace the calling workload must be in (<c>sourceNamespace</c>), if any; known per client at translation time.</summary>
    public string? SourceNamespace { get; init; }

    /// <summary>
    /// The gateways the match applies to (the match's own, else its VirtualService's; <c>mesh</c> when neither sets
    /// any). Mesh workloads, proxyless or sidecar, are the gateway <c>mesh</c>.
    /// </summary>
    public ImmutableArray<string> Gateways { get; init; } = [MeshGateway];

    /// <summary>The reserved gateway name for every workload of the mesh.</summary>
    public const string MeshGateway = "mesh";

    /// <summary>Whether the match applies to mesh workloads at all.</summary>
    public bool AppliesToMesh => Gateways.Contains(MeshGateway);

    /// <summary>Whether the match depends on who the caller is (source labels or namespace).</summary>
    public bool DependsOnSource => SourceLabels is not null || SourceNamespace is not null;

    /// <summary>True when <paramref name="ns"/> and <paramref name="labels"/> meet the source conditions.</summary>
    public bool MatchesSource(string ns, IReadOnlyDictionary<string, string> labels)
    {
        if (SourceNamespace is { } wanted && wanted != ns)
        {
            return false;
        }

        foreach (var (key, value) in SourceLabels ?? ImmutableDictionary<string, string>.Empty)
        {
            if (!labels.TryGetValue(key, out var own) || own != value)
            {
                return false;
            }
        }

        return true;
    }
}


/// <summary>A destination with its share of traffic.</summary>
/// <param name="Host">The fully qualified host of the destination service.</param>
/// <param name="Subset">The subset, or <see langword="null"/> for the whole service.</param>
/// <param name="Port">The destination port, or <see langword="null"/> to use the port the request came in on.</param>
/// <param name="Weight">The relative share: the destination gets Weight / (sum of the rule's weights) of the traffic.</param>
public sealed record WeightedDestination(string Host, string? Subset, int? Port, int Weight)
{
    /// <summary>The header changes for requests sent to this destination, if any.</summary>
    public HeaderManipulation? Headers { get; init; }
}

/// <summary>How a failed request is retried (Istio's <c>HTTPRetry</c>).</summary>
public sealed record RetryPolicy
{
    /// <summary>Retries after the first try; 0 means retries are turned off, and no retry policy is sent.</summary>
    public required int Attempts { get; init; }

    /// <summary>The timeout of each try, if any.</summary>
    public TimeSpan? PerTryTimeout { get; init; }

    /// <summary>The conditions, as Envoy's <c>retry_on</c> list (for example <c>unavailable,cancelled</c>).</summary>
    public required string RetryOn { get; init; }

    /// <summary>HTTP statuses retried under <c>retriable-status-codes</c>.</summary>
    public ImmutableArray<int> RetriableStatusCodes { get; init; } = [];

    /// <summary>The first back-off between tries; later ones grow exponentially up to <see cref="BackoffMaxInterval"/>.</summary>
    public TimeSpan BackoffBaseInterval { get; init; } = PolicyDefaults.RetryBackoffBase;

    /// <summary>The longest back-off between tries.</summary>
    public TimeSpan BackoffMaxInterval { get; init; } = PolicyDefaults.RetryBackoffBase * PolicyDefaults.RetryBackoffMaxMultiplier;
}

/// <summary>A fault to inject into matching requests.</summary>
public sealed record FaultPolicy
{
    /// <summary>The delay, if any.</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>The percentage of requests delayed.</summary>
    public double DelayPercent { get; init; }

    /// <summary>The HTTP status to abort with, if any.</summary>
    public int? AbortHttpStatus { get; init; }

    /// <summary>The gRPC status code to abort with, if any.</summary>
    public int? AbortGrpcStatus { get; init; }

    /// <summary>The percentage of requests aborted.</summary>
    public double AbortPercent { get; init; }
}
