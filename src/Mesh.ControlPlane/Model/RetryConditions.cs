using System.Collections.Frozen;
using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>
/// The conditions Istio accepts in <c>retries.retryOn</c>: Envoy's <c>x-envoy-retry-on</c> values and its
/// <c>x-envoy-retry-grpc-on</c> values. HTTP status codes are accepted too; they become <c>retriable_status_codes</c>.
/// </summary>
internal static class RetryConditions
{
    /// <summary>The condition that makes Envoy retry the codes in <c>retriable_status_codes</c>.</summary>
    public const string RetriableStatusCodes = "retriable-status-codes";

    /// <summary>Every condition Istio's validation accepts, in the order Envoy documents them.</summary>
    public static ImmutableArray<string> Names { get; } =
    [
        "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited", "retriable-4xx",
        "refused-stream", RetriableStatusCodes, "retriable-headers", "http3-post-connect-failure",
        "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
    ];

    /// <summary>The gRPC status conditions: the only ones gRPC's xDS clients act on (gRFC A44).</summary>
    public static FrozenSet<string> Grpc { get; } =
        new[] { "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable" }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary><see cref="Names"/> as a set.</summary>
    public static FrozenSet<string> All { get; } = Names.ToFrozenSet(StringComparer.Ordinal);
}
