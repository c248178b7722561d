using Envoy.Extensions.Filters.Common.Fault.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Type.V3;
using Grpc.Core;
using Mesh.Client.Policies;
using Mesh.Client.Routing;

namespace Mesh.Client.Tests.Policies;

public class FaultPolicyTests
{
    private sealed class Headers(Dictionary<string, string> values) : IRequestHeaders
    {
        public string? Get(string name) => values.GetValueOrDefault(name);
    }

    [Fact]
    public void HeaderAbort_UsesTheRequestsStatus_AndOnlyWhenTheHeaderIsThere()
    {
        var policy = FaultPolicy.From(new HTTPFault { Abort = new FaultAbort { HeaderAbort = new FaultAbort.Types.HeaderAbort(), Percentage = new FractionalPercent { Numerator = 100 } } })!;

        Assert.Null(policy.DrawAbort(new Headers([])));
        Assert.Equal(StatusCode.PermissionDenied, policy.DrawAbort(new Headers(new() { [FaultPolicy.AbortGrpcHeader] = "7" }))!.Value.StatusCode);
        Assert.Equal(StatusCode.Unavailable, policy.DrawAbort(new Headers(new() { [FaultPolicy.AbortHttpHeader] = "503" }))!.Value.StatusCode);
        Assert.Null(policy.DrawAbort(new Headers(new() { [FaultPolicy.AbortGrpcHeader] = "7", [FaultPolicy.AbortPercentageHeader] = "0" })));
    }

    [Fact]
    public void HeaderDelay_TakesTheDurationFromTheRequest()
    {
        var policy = FaultPolicy.From(new HTTPFault { Delay = new FaultDelay { HeaderDelay = new FaultDelay.Types.HeaderDelay(), Percentage = new FractionalPercent { Numerator = 100 } } })!;

        Assert.Null(policy.DrawDelay(new Headers([])));
        Assert.Equal(TimeSpan.FromMilliseconds(250), policy.DrawDelay(new Headers(new() { [FaultPolicy.DelayHeader] = "250" })));
    }

    [Fact]
    public void MaxActiveFaults_LimitsFaultsInProgress()
    {
        var policy = FaultPolicy.From(new HTTPFault { Abort = new FaultAbort { GrpcStatus = 14, Percentage = new FractionalPercent { Numerator = 100 } }, MaxActiveFaults = 2 })!;

        Assert.True(policy.TryEnter());
        Assert.True(policy.TryEnter());
        Assert.False(policy.TryEnter());
        policy.Exit();
        Assert.True(policy.TryEnter());
    }

    [Theory]
    [InlineData(400, StatusCode.Internal)]
    [InlineData(401, StatusCode.Unauthenticated)]
    [InlineData(403, StatusCode.PermissionDenied)]
    [InlineData(404, StatusCode.Unimplemented)]
    [InlineData(429, StatusCode.Unavailable)]
    [InlineData(503, StatusCode.Unavailable)]
    [InlineData(500, StatusCode.Unknown)]
    public void FromHttp_MapsLikeGrpc(int http, StatusCode expected) => Assert.Equal(expected, FaultPolicy.FromHttp(http));

    [Fact]
    public void Percentages_AreDrawnPerCall()
    {
        var policy = FaultPolicy.From(new HTTPFault { Abort = new FaultAbort { GrpcStatus = 14, Percentage = new FractionalPercent { Numerator = 25 } } })!;

        var aborted = Enumerable.Range(0, 20_000).Count(_ => policy.DrawAbort(new Headers([])) is not null);

        Assert.InRange(aborted, 4_600, 5_400); // 25 % of 20,000
    }
}
