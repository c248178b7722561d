using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.ControlPlane.Xds;
using Mesh.Testing;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Tests.Xds;

/// <summary>
/// Normal ends of an ADS stream (the client cancels, its connection is reset, the control plane shuts down) are logged
/// at information or below without an exception; Grpc.AspNetCore logs nothing at error level ("Error when executing
/// service method") because the handler ends normally.
/// </summary>
public class AdsStreamEndTests
{
    private const string Listener = "reviews.default.svc.cluster.local:9080";

    private static int Connections(TestControlPlane cp) => cp.Services.GetRequiredService<XdsResourceCache>().Connections.Count;

    private static async Task WaitForAsync(Func<bool> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        Assert.True(condition(), "timed out waiting for " + what);
    }

    private static void AssertQuiet(TestControlPlane cp)
    {
        var loud = cp.Logs.Entries.Where(e => e.Level >= LogLevel.Error).Select(e => $"{e.Level} {e.Category}: {e.Message}").ToList();
        Assert.True(loud.Count == 0, "logged at error level:\n" + string.Join("\n", loud));
        var traces = cp.Logs.Exceptions.Where(e => e.Level >= LogLevel.Information).Select(e => $"{e.Level} {e.Category}: {e.Exception.GetType().Name}").ToList();
        Assert.True(traces.Count == 0, "logged with an exception (a stack trace):\n" + string.Join("\n", traces));
    }

    private static DiscoveryRequest Request(string nodeId, string typeUrl, params string[] names)
    {
        var request = new DiscoveryRequest { Node = new Node { Id = nodeId }, TypeUrl = typeUrl };
        request.ResourceNames.AddRange(names);
        return request;
    }

    [Fact]
    public async Task Stream_ConnectionReset_EndsAtInformationWithoutAnError()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        var proxy = new FreezableTcpProxy(cp.XdsAddress);
        using var channel = GrpcChannel.ForAddress(proxy.Address);
        using var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources();
        await call.RequestStream.WriteAsync(Request("reset-node", XdsTypeUrls.Listener, Listener));
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        await proxy.DisposeAsync(); // the TCP connection is closed under the stream, as when a pod is killed.

        await WaitForAsync(() => Connections(cp) == 0, "the stream to end");
        await WaitForAsync(() => cp.Logs.Entries.Any(e => e.Level == LogLevel.Information && e.Message.Contains("xDS client reset-node", StringComparison.Ordinal) && e.Message.Contains("disconnected after", StringComparison.Ordinal)), "the disconnect line");
        await Task.Delay(300); // anything Grpc.AspNetCore or Kestrel would log after the method returned
        AssertQuiet(cp);
    }

    [Fact]
    public async Task Stream_ClientCancelsWhileAResponseIsBlocked_EndsWithoutAnError()
    {
        // A wildcard CDS response far larger than the client's window: the server is inside a write when the client leaves.
        await using var cp = await TestControlPlane.StartAsync(AdsFlowControlTests.ManyServices(3000));
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
        using var cancel = new CancellationTokenSource();
        var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources(cancellationToken: cancel.Token);
        await call.RequestStream.WriteAsync(Request("leaving-mid-write", XdsTypeUrls.Cluster));
        await WaitForAsync(() => cp.Services.GetRequiredService<XdsResourceCache>().Connections.Any(c => c.Status.Any(s => s.SentVersion is not null)), "the response to be under way");

        await cancel.CancelAsync();
        call.Dispose();

        await WaitForAsync(() => Connections(cp) == 0, "the stream to end");
        await Task.Delay(300);
        AssertQuiet(cp);
    }

    [Fact]
    public async Task DeltaStream_ClientCancels_EndsWithoutAnError()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
        using var cancel = new CancellationTokenSource();
        var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).DeltaAggregatedResources(cancellationToken: cancel.Token);
        var request = new DeltaDiscoveryRequest { Node = new Node { Id = "delta-leaving" }, TypeUrl = XdsTypeUrls.Listener };
        request.ResourceNamesSubscribe.Add(Listener);
        await call.RequestStream.WriteAsync(request);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        await cancel.CancelAsync();
        call.Dispose();

        await WaitForAsync(() => Connections(cp) == 0, "the stream to end");
        await WaitForAsync(() => cp.Logs.Entries.Any(e => e.Level == LogLevel.Information && e.Message.Contains("xDS client delta-leaving", StringComparison.Ordinal) && e.Message.Contains("disconnected after", StringComparison.Ordinal)), "the disconnect line");
        await Task.Delay(300);
        AssertQuiet(cp);
    }

    [Fact]
    public async Task Stream_ControlPlaneShutsDown_ClientSeesUnavailableAndNothingIsLoggedAsAFailure()
    {
        var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        try
        {
            using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
            using var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources();
            await call.RequestStream.WriteAsync(Request("staying-node", XdsTypeUrls.Listener, Listener));
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

            var stopping = cp.StopAsync();
            var ended = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None)).WaitAsync(TimeSpan.FromSeconds(20));
            await stopping.WaitAsync(TimeSpan.FromSeconds(20));

            // UNAVAILABLE from the handler; when Kestrel closes the connection first under load the client sees INTERNAL.
            Assert.True(ended.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"the client saw {ended.StatusCode}: {ended.Status.Detail}");
            AssertQuiet(cp);
        }
        finally
        {
            await cp.DisposeAsync();
        }
    }
}
