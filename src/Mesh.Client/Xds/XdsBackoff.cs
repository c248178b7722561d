namespace Mesh.Client.Xds;

/// <summary>
/// The ADS stream's reconnect backoff, as gRPC's connection backoff: the first delay is <see cref="InitialBackoff"/>,
/// each next one <see cref="Multiplier"/> times longer up to <see cref="MaxBackoff"/>, and each is randomized by
/// ±<see cref="Jitter"/> (applied after the cap, so a delay may reach <c>MaxBackoff × (1 + Jitter)</c>).
/// </summary>
/// <param name="InitialBackoff">The first delay before jitter.</param>
/// <param name="Multiplier">How much longer each next delay is.</param>
/// <param name="Jitter">The relative randomization, 0.2 for ±20 %.</param>
/// <param name="MaxBackoff">The longest delay before jitter.</param>
internal sealed record XdsBackoffPolicy(TimeSpan InitialBackoff, double Multiplier, double Jitter, TimeSpan MaxBackoff)
{
    /// <summary>gRPC's defaults: 1 s, ×1.6, ±20 %, at most 120 s.</summary>
    public static XdsBackoffPolicy Default { get; } = new(TimeSpan.FromSeconds(1), 1.6, 0.2, TimeSpan.FromSeconds(120));
}

/// <summary>The delays of one run of failures; <see cref="Reset"/> starts over after a stream succeeds.</summary>
internal sealed class XdsBackoff
{
    private readonly XdsBackoffPolicy _policy;
    private readonly Func<double> _random;
    private TimeSpan _next;

    /// <summary>Creates a backoff.</summary>
    /// <param name="policy">The delays.</param>
    /// <param name="random">A uniform random number in [0, 1), e.g. <see cref="Random.NextDouble"/>.</param>
    public XdsBackoff(XdsBackoffPolicy policy, Func<double> random)
    {
        _policy = policy;
        _random = random;
        _next = policy.InitialBackoff;
    }

    /// <summary>How many delays were handed out since the last reset.</summary>
    public int Attempts { get; private set; }

    /// <summary>The delay before the next attempt.</summary>
    /// <returns>The jittered delay.</returns>
    public TimeSpan Next()
    {
        var delay = _next;
        var grown = _next.Ticks * _policy.Multiplier;
        _next = grown >= _policy.MaxBackoff.Ticks ? _policy.MaxBackoff : TimeSpan.FromTicks((long)grown);
        Attempts++;
        var factor = 1 + (_policy.Jitter * ((_random() * 2) - 1));
        return TimeSpan.FromTicks(Math.Max(0, (long)(delay.Ticks * factor)));
    }

    /// <summary>Starts over at <see cref="XdsBackoffPolicy.InitialBackoff"/>.</summary>
    public void Reset()
    {
        _next = _policy.InitialBackoff;
        Attempts = 0;
    }
}
