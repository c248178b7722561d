namespace Mesh.Client.LoadBalancing;

/// <summary>
/// Slow start (Envoy's <c>slow_start_config</c> of round robin and least request, which istiod sends for a
/// DestinationRule's <c>warmupDurationSecs</c> / <c>warmup</c>): for <see cref="Window"/> after an endpoint joins, its
/// weight is scaled by <c>max(MinWeight, timeFactor ^ (1 / Aggression))</c> with
/// <c>timeFactor = max(elapsed, 1 ms) / Window</c>, Envoy's formula.
/// </summary>
/// <param name="Window">How long a new endpoint ramps up.</param>
/// <param name="Aggression">The ramp's exponent: 1 is linear (the default); larger values ramp faster at first.</param>
/// <param name="MinWeight">The smallest fraction of its weight a new endpoint gets (0.1, Envoy's 10 %, by default).</param>
internal sealed record SlowStartConfig(TimeSpan Window, double Aggression, double MinWeight)
{
    /// <summary>Envoy's default minimum weight: 10 %.</summary>
    public const double DefaultMinWeight = 0.1;

    /// <summary>The slow start of a cluster's round robin or least request settings, or null when there is none.</summary>
    public static SlowStartConfig? FromProto(Envoy.Config.Cluster.V3.Cluster.Types.SlowStartConfig? config)
    {
        if (config?.SlowStartWindow is not { } window || window.ToTimeSpan() <= TimeSpan.Zero)
        {
            return null;
        }

        // Envoy, too, falls back to 1.0 for an aggression that is not positive.
        var aggression = config.Aggression is { } a && a.DefaultValue > 0 && !double.IsNaN(a.DefaultValue) ? a.DefaultValue : 1.0;
        var minimum = config.MinWeightPercent is { } m && !double.IsNaN(m.Value) ? Math.Clamp(m.Value, 0, 100) / 100 : DefaultMinWeight;
        return new SlowStartConfig(window.ToTimeSpan(), aggression, minimum);
    }

    /// <summary>The factor (MinWeight…1) an endpoint's weight is scaled by, <paramref name="elapsed"/> after it joined.</summary>
    public double Factor(TimeSpan elapsed)
    {
        if (elapsed >= Window)
        {
            return 1;
        }

        var time = Math.Max(elapsed.TotalMilliseconds, 1) / Window.TotalMilliseconds;
        var ramp = Aggression == 1.0 ? time : Math.Pow(time, 1 / Aggression);
        return Math.Max(ramp, MinWeight);
    }
}
