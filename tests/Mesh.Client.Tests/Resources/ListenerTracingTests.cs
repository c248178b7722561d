using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Type.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.Client.Resources;
using Mesh.Client.Telemetry;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.Client.Tests.Resources;

/// <summary>
/// The connection manager's <c>tracing</c> (where the control plane puts a Telemetry's sampling), as the client reads
/// it, and the sampling decision made from it.
/// </summary>
public class ListenerTracingTests
{
    private static Listener ListenerWith(Hcm.HttpConnectionManager.Types.Tracing? tracing)
    {
        var hcm = new Hcm.HttpConnectionManager
        {
            Rds = new Hcm.Rds { ConfigSource = new ConfigSource { Ads = new AggregatedConfigSource() }, RouteConfigName = "r" },
            HttpFilters = { new Hcm.HttpFilter { Name = "router", TypedConfig = Any.Pack(new Envoy.Extensions.Filters.Http.Router.V3.Router()) } },
            Tracing = tracing,
        };
        return new Listener { Name = "l", ApiListener = new ApiListener { ApiListener_ = Any.Pack(hcm) } };
    }

    [Theory]
    [InlineData(25.0, null, 25.0)]
    [InlineData(null, null, 100.0)] // Envoy's defaults: 100 % each
    [InlineData(40.0, 10.0, 10.0)] // overall caps random
    [InlineData(0.0, null, 0.0)]
    public void DecodeListener_Tracing_RandomSamplingCappedByOverall(double? random, double? overall, double expected)
    {
        var tracing = new Hcm.HttpConnectionManager.Types.Tracing
        {
            RandomSampling = random is { } r ? new Percent { Value = r } : null,
            OverallSampling = overall is { } o ? new Percent { Value = o } : null,
        };

        var listener = Assert.IsType<ListenerResource>(XdsResourceTypes.DecodeListener(ListenerWith(tracing)).Resource);

        Assert.Equal(expected, listener.RandomSampling);
    }

    [Fact]
    public void DecodeListener_NoTracing_NoMeshSampling()
    {
        var listener = Assert.IsType<ListenerResource>(XdsResourceTypes.DecodeListener(ListenerWith(null)).Resource);

        Assert.Null(listener.RandomSampling);
    }

    [Fact]
    public void DecodeListener_SamplingAbove100_IsRejectedNamingTheField()
    {
        var result = XdsResourceTypes.DecodeListener(ListenerWith(new Hcm.HttpConnectionManager.Types.Tracing { RandomSampling = new Percent { Value = 150 } }));

        Assert.Null(result.Resource);
        Assert.Contains("tracing", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void ShouldRecord_CallerDecisionWinsOverThePercentage_NoPercentageLeavesItToTheApplication()
    {
        var sampled = new System.Diagnostics.ActivityContext(System.Diagnostics.ActivityTraceId.CreateRandom(), System.Diagnostics.ActivitySpanId.CreateRandom(), System.Diagnostics.ActivityTraceFlags.Recorded);
        var unsampled = TraceSampling.NewUnsampledContext();

        Assert.True(TraceSampling.ShouldRecord(0, sampled));
        Assert.False(TraceSampling.ShouldRecord(100, unsampled));
        Assert.True(TraceSampling.ShouldRecord(100, default));
        Assert.False(TraceSampling.ShouldRecord(0, default));
        Assert.True(TraceSampling.ShouldRecord(null, unsampled));
        var drawn = Enumerable.Range(0, 4000).Count(_ => TraceSampling.ShouldRecord(25, default));
        Assert.InRange(drawn, 800, 1200);
    }
}
