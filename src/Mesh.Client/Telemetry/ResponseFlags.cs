namespace Mesh.Client.Telemetry;

/// <summary>
/// Envoy's short response flags, as Istio's <c>response_flags</c> label carries them (several joined with ",";
/// <c>-</c> for none). Only the ones the mesh can cause in-process.
/// </summary>
[Flags]
internal enum ResponseFlags
{
    None = 0,

    /// <summary><c>UO</c>: upstream overflow, the circuit breaker dropped the request.</summary>
    UpstreamOverflow = 1,

    /// <summary><c>FI</c>: the request was aborted by fault injection.</summary>
    FaultInjected = 2,

    /// <summary><c>DI</c>: the request was delayed by fault injection.</summary>
    DelayInjected = 4,

    /// <summary><c>UT</c>: upstream request timeout (route timeout or deadline).</summary>
    UpstreamRequestTimeout = 8,

    /// <summary><c>URX</c>: the request was rejected because the retry limit was reached.</summary>
    UpstreamRetryLimitExceeded = 16,

    /// <summary><c>NR</c>: no route for the request.</summary>
    NoRoute = 32,

    /// <summary><c>UH</c>: no healthy upstream endpoint.</summary>
    NoHealthyUpstream = 64,

    /// <summary><c>UF</c>: upstream connection failure.</summary>
    UpstreamConnectionFailure = 128,

    /// <summary><c>DC</c>: the downstream connection ended before the response.</summary>
    DownstreamConnectionTermination = 256,
}

/// <summary>The label text of <see cref="ResponseFlags"/>.</summary>
internal static class ResponseFlagsText
{
    private static readonly (ResponseFlags Flag, string Text)[] Names =
    [
        (ResponseFlags.DownstreamConnectionTermination, "DC"),
        (ResponseFlags.DelayInjected, "DI"),
        (ResponseFlags.FaultInjected, "FI"),
        (ResponseFlags.NoRoute, "NR"),
        (ResponseFlags.UpstreamConnectionFailure, "UF"),
        (ResponseFlags.NoHealthyUpstream, "UH"),
        (ResponseFlags.UpstreamOverflow, "UO"),
        (ResponseFlags.UpstreamRequestTimeout, "UT"),
        (ResponseFlags.UpstreamRetryLimitExceeded, "URX"),
    ];

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<ResponseFlags, string> Texts = new();

    /// <summary>The flag of a failed pick: the circuit breaker's drop (UO), no route (NR), else no healthy endpoint (UH).</summary>
    public static ResponseFlags ForPickFailure(bool drop, string? reason) =>
        drop ? ResponseFlags.UpstreamOverflow
        : reason is LoadBalancing.RouteTable.NoRouteReason ? ResponseFlags.NoRoute
        : ResponseFlags.NoHealthyUpstream;

    /// <summary>Envoy's text: <c>-</c>, or the short names joined with "," (as Envoy orders them, alphabetically).</summary>
    public static string Of(ResponseFlags flags)
    {
        if (flags == ResponseFlags.None)
        {
            return IstioLabels.NoFlags;
        }

        if (Texts.TryGetValue(flags, out var text))
        {
            return text;
        }

        var parts = new List<string>();
        foreach (var (flag, name) in Names)
        {
            if ((flags & flag) != 0)
            {
                parts.Add(name);
            }
        }

        text = string.Join(',', parts);
        Texts.TryAdd(flags, text);
        return text;
    }
}
