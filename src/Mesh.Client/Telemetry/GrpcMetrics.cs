using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Mesh.Client.Telemetry;

/// <summary>
/// gRPC's own OpenTelemetry metrics (gRFC A66), as grpc-java, grpc-go and C-core emit them and grpc-dotnet does not:
/// per attempt and per call on the client, per call on the server, with A66's latency and size buckets.
/// </summary>
internal sealed class GrpcMetrics
{
    public const string MethodTag = "grpc.method";
    public const string TargetTag = "grpc.target";
    public const string StatusTag = "grpc.status";

    private static readonly double[] LatencyBuckets =
        [0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1, 2, 5, 10, 20, 50, 100];

    private static readonly long[] SizeBuckets =
        [0, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456, 1073741824, 4294967296];

    private static readonly string[] StatusNames =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    private GrpcMetrics(Meter meter, bool client)
    {
        var latency = new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets };
        var sizes = new InstrumentAdvice<long> { HistogramBucketBoundaries = SizeBuckets };
        var side = client ? "grpc.client." : "grpc.server.";
        var unit = client ? "attempt." : "call.";
        Started = meter.CreateCounter<long>(side + unit + "started", client ? "{attempt}" : "{call}", client ? "Call attempts started" : "Calls started");
        Duration = meter.CreateHistogram(side + unit + "duration", "s", client ? "Call attempt duration" : "Call duration, server side", tags: null, latency);
        Sent = meter.CreateHistogram(side + unit + "sent_total_compressed_message_size", "By", "Bytes of messages sent, per " + (client ? "attempt" : "call"), tags: null, sizes);
        Received = meter.CreateHistogram(side + unit + "rcvd_total_compressed_message_size", "By", "Bytes of messages received, per " + (client ? "attempt" : "call"), tags: null, sizes);
        CallDuration = client ? meter.CreateHistogram("grpc.client.call.duration", "s", "Call duration, all attempts included", tags: null, latency) : null;
    }

    public Counter<long> Started { get; }

    public Histogram<double> Duration { get; }

    public Histogram<long> Sent { get; }

    public Histogram<long> Received { get; }

    /// <summary>Client only: <c>grpc.client.call.duration</c>.</summary>
    public Histogram<double>? CallDuration { get; }

    /// <summary>Whether a listener has enabled any of these instruments.</summary>
    public bool Enabled => Started.Enabled || Duration.Enabled || Sent.Enabled || Received.Enabled || CallDuration?.Enabled == true;

    public static GrpcMetrics ForClient(Meter meter) => new(meter, client: true);

    public static GrpcMetrics ForServer(Meter meter) => new(meter, client: false);

    /// <summary>A66's status label: the code's name (<c>OK</c>, <c>UNAVAILABLE</c>, …).</summary>
    public static string StatusName(int? code) => code is { } c && (uint)c < (uint)StatusNames.Length ? StatusNames[c] : "UNKNOWN";

    /// <summary>A66's method label: <c>package.Service/Method</c> from the request path.</summary>
    /// <remarks>A service has few methods: labels are cached by path (bounded), so a call allocates none.</remarks>
    public static string Method(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "other";
        }

        if (MethodLabels.TryGetValue(path, out var label))
        {
            return label;
        }

        label = path.TrimStart('/');
        if (MethodLabels.Count < 4096)
        {
            MethodLabels.TryAdd(path, label);
        }

        return label;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> MethodLabels = new(StringComparer.Ordinal);

    public void RecordStarted(string method, string? target)
    {
        if (Started.Enabled)
        {
            Started.Add(1, Tags(method, target, status: null));
        }
    }

    public void RecordEnded(string method, string? target, int? status, double seconds, long sent, long received)
    {
        if (!Duration.Enabled && !Sent.Enabled && !Received.Enabled)
        {
            return;
        }

        var tags = Tags(method, target, StatusName(status));
        Duration.Record(seconds, tags);
        Sent.Record(sent, tags);
        Received.Record(received, tags);
    }

    private static TagList Tags(string method, string? target, string? status)
    {
        var tags = new TagList { { MethodTag, method } };
        if (target is not null)
        {
            tags.Add(TargetTag, target);
        }

        if (status is not null)
        {
            tags.Add(StatusTag, status);
        }

        return tags;
    }
}
