using System.Diagnostics;
using System.Diagnostics.Metrics;
using Google.Protobuf.WellKnownTypes;
using Mesh.Client.Bootstrap;
using Mesh.Client.Telemetry;

namespace Mesh.Client.Tests.Telemetry;

/// <summary>The self-contained telemetry pieces: metadata exchange codec, frame counting, flags, workload labels, A66 instruments, trace headers.</summary>
public sealed class TelemetryCodecTests
{
    [Fact]
    public void PeerMetadata_EncodedThenDecoded_PaddedAndUnpaddedBothRead()
    {
        var node = new Struct();
        node.Fields["NAMESPACE"] = Value.ForString("bookinfo");
        node.Fields["WORKLOAD_NAME"] = Value.ForString("reviews-v2");
        var encoded = PeerMetadataCodec.Encode(node);

        Assert.True(PeerMetadataCodec.TryDecode(encoded, out var padded));
        Assert.True(PeerMetadataCodec.TryDecode(encoded.TrimEnd('='), out var unpadded));
        Assert.Equal(node, padded);
        Assert.Equal(node, unpadded);
        Assert.False(PeerMetadataCodec.TryDecode("not base64!", out _));
        Assert.Same(WorkloadMetadata.Unknown, PeerMetadataCodec.ReadPeer("%%%", "id"));
    }

    [Fact]
    public void WorkloadMetadata_FromNode_IstioFallbacksAndDefaults()
    {
        var labels = new Struct();
        labels.Fields["app"] = Value.ForString("reviews");
        labels.Fields["version"] = Value.ForString("v2");
        var metadata = new Struct();
        metadata.Fields["NAMESPACE"] = Value.ForString("default");
        metadata.Fields["LABELS"] = Value.ForStruct(labels);
        var self = WorkloadMetadata.FromNode(new XdsNode { Id = "node-1", Metadata = metadata });

        Assert.Equal("reviews-v2", self.Workload); // no WORKLOAD_NAME: the Deployment name Bookinfo uses
        Assert.Equal("reviews", self.CanonicalService);
        Assert.Equal("v2", self.CanonicalRevision);
        Assert.Equal("Kubernetes", self.Cluster);
        Assert.Equal("unknown", self.MeshId);

        var peer = WorkloadMetadata.FromStruct(new Struct(), "x");
        Assert.Equal("unknown", peer.Workload);
        Assert.Equal("latest", peer.CanonicalRevision);
        Assert.Equal("unknown", peer.Cluster);
    }

    [Fact]
    public void GrpcFrameCounter_MessagesSplitAnywhere_CountedOnce()
    {
        // Two messages: 3 bytes and 0 bytes, fed one byte at a time.
        byte[] stream = [0, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 0];
        var counter = default(GrpcFrameCounter);
        foreach (var b in stream)
        {
            counter.Add([b]);
        }

        Assert.Equal(2, counter.Messages);
        Assert.Equal(stream.Length, counter.Bytes);
    }

    [Fact]
    public void ResponseFlagsText_SeveralFlags_EnvoysShortNamesJoined()
    {
        Assert.Equal("-", ResponseFlagsText.Of(ResponseFlags.None));
        Assert.Equal("UO", ResponseFlagsText.Of(ResponseFlags.UpstreamOverflow));
        Assert.Equal("DI,FI", ResponseFlagsText.Of(ResponseFlags.FaultInjected | ResponseFlags.DelayInjected));
        Assert.Equal("URX", ResponseFlagsText.Of(ResponseFlags.UpstreamRetryLimitExceeded));
    }

    [Fact]
    public void GrpcMetrics_A66Names_UnitsAndBuckets()
    {
        using var meter = new Meter("test-a66-" + Guid.NewGuid().ToString("N"));
        var client = GrpcMetrics.ForClient(meter);
        Assert.Equal("grpc.client.attempt.started", client.Started.Name);
        Assert.Equal("grpc.client.attempt.duration", client.Duration.Name);
        Assert.Equal("s", client.Duration.Unit);
        Assert.Equal("grpc.client.attempt.sent_total_compressed_message_size", client.Sent.Name);
        Assert.Equal("grpc.client.attempt.rcvd_total_compressed_message_size", client.Received.Name);
        Assert.Equal("grpc.client.call.duration", client.CallDuration!.Name);
        Assert.Equal(41, client.Duration.Advice!.HistogramBucketBoundaries!.Count);
        Assert.Equal(4294967296L, client.Sent.Advice!.HistogramBucketBoundaries![^1]);
        var server = GrpcMetrics.ForServer(meter);
        Assert.Equal("grpc.server.call.started", server.Started.Name);
        Assert.Equal("grpc.server.call.duration", server.Duration.Name);
        Assert.Null(server.CallDuration);
        Assert.Equal("UNAVAILABLE", GrpcMetrics.StatusName(14));
        Assert.Equal("helloworld.Greeter/SayHello", GrpcMetrics.Method("/helloworld.Greeter/SayHello"));
    }

    [Fact]
    public void IstioMetrics_Instruments_IstioNamesNoUnitEnvoyBuckets()
    {
        using var meter = new Meter("test-istio-" + Guid.NewGuid().ToString("N"));
        var metrics = new IstioMetrics(meter);
        Assert.Equal("istio_requests_total", metrics.Requests.Name);
        Assert.Null(metrics.Requests.Unit);
        Assert.Equal("istio_request_duration_milliseconds", metrics.Duration.Name);
        Assert.Null(metrics.Duration.Unit);
        Assert.Equal(IstioLabels.EnvoyDefaultBuckets, metrics.Duration.Advice!.HistogramBucketBoundaries);
        Assert.Equal(25, IstioLabels.All.Length);
    }

    [Fact]
    public void TraceHeaders_B3SingleAndMulti_Extracted64BitTraceIdPadded()
    {
        Assert.True(TraceHeaders.TryExtract(null, null, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1", null, null, null, out var single));
        Assert.Equal("80f198ee56343ba864fe8b2a57d3eff7", single.TraceId.ToHexString());
        Assert.Equal("e457b5a2e4d86bd1", single.SpanId.ToHexString());
        Assert.Equal(ActivityTraceFlags.Recorded, single.TraceFlags);

        Assert.True(TraceHeaders.TryExtract(null, null, null, "a3ce929d0e0e4736", "00f067aa0ba902b7", "0", out var multi));
        Assert.Equal("0000000000000000a3ce929d0e0e4736", multi.TraceId.ToHexString());
        Assert.Equal(ActivityTraceFlags.None, multi.TraceFlags);

        Assert.False(TraceHeaders.TryExtract(null, null, "zz-1", null, null, null, out _));
    }
}
