using Google.Protobuf.WellKnownTypes;

namespace Mesh.Client.LoadBalancing.OutlierDetection;

/// <summary>
/// Outlier detection for one cluster (gRFC A50, plus Envoy's consecutive 5xx): which ejection algorithms run, how
/// often, and for how long an ejected endpoint stays out. An algorithm whose property is null is off.
/// </summary>
internal sealed record OutlierDetectionConfig
{
    /// <summary>Time between ejection sweeps; 10 s by default.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Ejection time of a first ejection; multiplied by the endpoint's ejection multiplier. 30 s by default.</summary>
    public TimeSpan BaseEjectionTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Cap on the ejection time (the cap is the larger of this and <see cref="BaseEjectionTime"/>). 300 s by default.</summary>
    public TimeSpan MaxEjectionTime { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Most endpoints ejected at once, as a percentage of all; at least one is always allowed. 10 by default.</summary>
    public uint MaxEjectionPercent { get; init; } = 10;

    /// <summary>Success-rate ejection (statistical outliers), or null when off.</summary>
    public SuccessRateEjectionConfig? SuccessRateEjection { get; init; }

    /// <summary>Failure-percentage ejection (fixed threshold), or null when off.</summary>
    public FailurePercentageEjectionConfig? FailurePercentageEjection { get; init; }

    /// <summary>Envoy's consecutive 5xx ejection (a run of failures ejects at once), or null when off.</summary>
    public Consecutive5xxEjectionConfig? Consecutive5xx { get; init; }

    /// <summary>Whether any ejection algorithm is on.</summary>
    public bool IsEnabled => SuccessRateEjection is not null || FailurePercentageEjection is not null || Consecutive5xx is not null;

    /// <summary>
    /// Reads a cluster's <c>outlier_detection</c>. Returns null with no error when the cluster has none (detection
    /// off), null with an error naming every invalid field (the cluster is to be NACKed), or the config.
    /// </summary>
    /// <remarks>
    /// As gRFC A50 says: success rate is on unless <c>enforcing_success_rate</c> is 0; failure percentage is on only
    /// when <c>enforcing_failure_percentage</c> is set and above 0. Envoy's consecutive 5xx is on unless
    /// <c>enforcing_consecutive_5xx</c> or <c>consecutive_5xx</c> is 0. Gateway-failure and local-origin detection
    /// and ejection-time jitter are not supported and are ignored.
    /// </remarks>
    public static OutlierDetectionConfig? FromProto(Envoy.Config.Cluster.V3.OutlierDetection? proto, out string? error)
    {
        error = null;
        if (proto is null)
        {
            return null;
        }

        var errors = new List<string>();
        var interval = ReadDuration(proto.Interval, "interval", TimeSpan.FromSeconds(10), errors);
        if (interval == TimeSpan.Zero)
        {
            // A50 allows 0, but a sweep that never waits is not a configuration anyone means; Envoy rejects it too.
            errors.Add("outlier_detection.interval: must be greater than 0");
        }

        var baseEjectionTime = ReadDuration(proto.BaseEjectionTime, "base_ejection_time", TimeSpan.FromSeconds(30), errors);
        var maxEjectionTime = ReadDuration(proto.MaxEjectionTime, "max_ejection_time", TimeSpan.FromSeconds(300), errors);
        var maxEjectionPercent = ReadPercent(proto.MaxEjectionPercent, "max_ejection_percent", 10, errors);
        var enforcingSuccessRate = ReadPercent(proto.EnforcingSuccessRate, "enforcing_success_rate", 100, errors);
        var failureThreshold = ReadPercent(proto.FailurePercentageThreshold, "failure_percentage_threshold", 85, errors);
        var enforcingFailurePercentage = ReadPercent(proto.EnforcingFailurePercentage, "enforcing_failure_percentage", 0, errors);
        var enforcingConsecutive5xx = ReadPercent(proto.EnforcingConsecutive5Xx, "enforcing_consecutive_5xx", 100, errors);
        if (errors.Count > 0)
        {
            error = string.Join("; ", errors);
            return null;
        }

        var consecutive5xx = proto.Consecutive5Xx ?? 5;
        return new OutlierDetectionConfig
        {
            Interval = interval,
            BaseEjectionTime = baseEjectionTime,
            MaxEjectionTime = maxEjectionTime,
            MaxEjectionPercent = maxEjectionPercent,
            SuccessRateEjection = enforcingSuccessRate == 0 ? null : new SuccessRateEjectionConfig
            {
                StdevFactor = proto.SuccessRateStdevFactor ?? 1900,
                EnforcementPercentage = enforcingSuccessRate,
                MinimumHosts = proto.SuccessRateMinimumHosts ?? 5,
                RequestVolume = proto.SuccessRateRequestVolume ?? 100,
            },
            FailurePercentageEjection = enforcingFailurePercentage == 0 ? null : new FailurePercentageEjectionConfig
            {
                Threshold = failureThreshold,
                EnforcementPercentage = enforcingFailurePercentage,
                MinimumHosts = proto.FailurePercentageMinimumHosts ?? 5,
                RequestVolume = proto.FailurePercentageRequestVolume ?? 50,
            },
            Consecutive5xx = enforcingConsecutive5xx == 0 || consecutive5xx == 0 ? null : new Consecutive5xxEjectionConfig
            {
                Threshold = consecutive5xx,
                EnforcementPercentage = enforcingConsecutive5xx,
            },
        };
    }

    private static TimeSpan ReadDuration(Duration? value, string field, TimeSpan fallback, List<string> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        // A50: a valid google.protobuf.Duration (range, nanos, one sign), and not negative.
        if (value.Seconds is < Duration.MinSeconds or > Duration.MaxSeconds
            || value.Nanos is <= -Duration.NanosecondsPerSecond or >= Duration.NanosecondsPerSecond
            || (value.Seconds < 0 && value.Nanos > 0) || (value.Seconds > 0 && value.Nanos < 0))
        {
            errors.Add($"outlier_detection.{field}: not a valid duration ({value.Seconds}s {value.Nanos}ns)");
            return fallback;
        }

        if (value.Seconds < 0 || value.Nanos < 0)
        {
            errors.Add($"outlier_detection.{field}: must not be negative");
            return fallback;
        }

        return value.ToTimeSpan();
    }

    private static uint ReadPercent(uint? value, string field, uint fallback, List<string> errors)
    {
        if (value is > 100)
        {
            errors.Add($"outlier_detection.{field}: {value} is more than 100");
            return fallback;
        }

        return value ?? fallback;
    }
}

/// <summary>
/// Success-rate ejection: an endpoint is an outlier when its success rate is below
/// <c>mean - stdev * StdevFactor / 1000</c> of the endpoints with enough requests.
/// </summary>
internal sealed record SuccessRateEjectionConfig
{
    /// <summary>The standard-deviation factor, times 1000 (1900 means 1.9).</summary>
    public uint StdevFactor { get; init; } = 1900;

    /// <summary>Percentage chance that a detected outlier is ejected; 100 by default.</summary>
    public uint EnforcementPercentage { get; init; } = 100;

    /// <summary>Endpoints with enough requests needed before any is judged; 5 by default.</summary>
    public uint MinimumHosts { get; init; } = 5;

    /// <summary>Requests in an interval an endpoint needs to be judged; 100 by default.</summary>
    public uint RequestVolume { get; init; } = 100;
}

/// <summary>Failure-percentage ejection: an endpoint whose failures reach <see cref="Threshold"/> percent is an outlier.</summary>
/// <remarks>
/// <see cref="EnforcementPercentage"/> defaults to 100 as in A50's LB policy config: a present
/// <see cref="OutlierDetectionConfig.FailurePercentageEjection"/> means "on". (Envoy's
/// <c>enforcing_failure_percentage</c> defaults to 0, which <see cref="OutlierDetectionConfig.FromProto"/> maps to "off".)
/// </remarks>
internal sealed record FailurePercentageEjectionConfig
{
    /// <summary>Failure percentage at or above which an endpoint is an outlier; 85 by default.</summary>
    public uint Threshold { get; init; } = 85;

    /// <summary>Percentage chance that a detected outlier is ejected; 100 by default.</summary>
    public uint EnforcementPercentage { get; init; } = 100;

    /// <summary>Endpoints the cluster needs (counting all, whatever their traffic) before any is judged; 5 by default.</summary>
    public uint MinimumHosts { get; init; } = 5;

    /// <summary>Requests in an interval an endpoint needs to be judged; 50 by default.</summary>
    public uint RequestVolume { get; init; } = 50;
}

/// <summary>Envoy's consecutive 5xx ejection: <see cref="Threshold"/> failures in a row, with no success between, eject at once.</summary>
internal sealed record Consecutive5xxEjectionConfig
{
    /// <summary>Failures in a row that eject; 5 by default.</summary>
    public uint Threshold { get; init; } = 5;

    /// <summary>Percentage chance that the endpoint is ejected when the threshold is reached; 100 by default.</summary>
    public uint EnforcementPercentage { get; init; } = 100;
}
