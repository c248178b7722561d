namespace Mesh.ControlPlane.Model;

/// <summary>
/// The values Istio and Envoy use when a traffic-policy field is left unset. Mesh writes them into the snapshot and
/// the xDS it sends, so a client never has to know Envoy's defaults to behave as Istio users expect.
/// </summary>
internal static class PolicyDefaults
{
    /// <summary>Istio's <c>retryOn</c> when a retry policy does not name one.</summary>
    public const string RetryOn = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

    /// <summary>The HTTP status Istio's default <c>retryOn</c> retries (with <c>retriable-status-codes</c>).</summary>
    public const int RetriableStatusCode = 503;

    /// <summary>The retry back-off base interval (Envoy's default, gRFC A44).</summary>
    public static readonly TimeSpan RetryBackoffBase = TimeSpan.FromMilliseconds(25);

    /// <summary>The longest back-off, as a multiple of the base interval (Envoy's default, gRFC A44).</summary>
    public const int RetryBackoffMaxMultiplier = 10;

    /// <summary>gRPC clients make at most this many attempts, the first included (gRFC A6).</summary>
    public const int GrpcMaxAttempts = 5;

    /// <summary>Consecutive 5xx that eject an endpoint when outlier detection is on (Envoy's default).</summary>
    public const uint Consecutive5xxErrors = 5;

    /// <summary>The outlier-detection sweep interval (Envoy's default).</summary>
    public static readonly TimeSpan OutlierInterval = TimeSpan.FromSeconds(10);

    /// <summary>The base ejection time (Envoy's default).</summary>
    public static readonly TimeSpan BaseEjectionTime = TimeSpan.FromSeconds(30);

    /// <summary>The longest ejection, unless the base ejection time is longer (Envoy's default, gRFC A50).</summary>
    public static readonly TimeSpan MaxEjectionTime = TimeSpan.FromSeconds(300);

    /// <summary>The most endpoints ejected at once, in percent (Envoy's default).</summary>
    public const int MaxEjectionPercent = 10;
}
