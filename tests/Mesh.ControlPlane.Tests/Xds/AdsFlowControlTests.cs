using System.Diagnostics;
using System.Text;
using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.ControlPlane.Xds;
using Mesh.Testing;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.ControlPlane.Tests.Xds;

/// <summary>
/// Flow control: a client that never reads holds one response per stream for a bounded time, all such responses
/// together stay under <see cref="XdsStreamLimits.MaxBlockedResponseBytes"/>, and it does not hold back other clients,
/// not even those sharing its HTTP/2 connection.
/// </summary>
public class AdsFlowControlTests
{
    private const string Listener = "reviews.default.svc.cluster.local:9080";

    /// <summary><paramref name="count"/> ServiceEntries with long host names: a wildcard CDS response of them is far larger than an HTTP/2 window.</summary>
    internal static Dictionary<string, string> ManyServices(int count)
    {
        var yaml = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            yaml.Append(System.Globalization.CultureInfo.InvariantCulture, $"""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata:
                  name: service-{i}
                spec:
                  hosts: [service-{i}.a-rather-long-subdomain-to-make-each-cluster-bigger.example.com]
                  ports:
                  - {"{"}number: 80, name: http, protocol: HTTP{"}"}
                ---

                """);
        }

        return new Dictionary<string, string> { ["services.yaml"] = yaml.ToString() };
    }

    private static XdsResourceCache Cache(TestControlPlane cp) => cp.Services.GetRequiredService<XdsResourceCache>();

    private static async Task WaitForAsync(Func<bool> condition, string what, TestControlPlane cp, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        Assert.True(condition(), "timed out waiting for " + what + "; the control plane logged:\n"
            + string.Join("\n", cp.Logs.Entries.TakeLast(10).Select(e => $"{e.Level} {e.Category}: {e.Message[..Math.Min(e.Message.Length, 300)]}")));
    }

    private static DiscoveryRequest Request(string nodeId, string typeUrl, IEnumerable<string> names, DiscoveryResponse? acking = null)
    {
        var request = new DiscoveryRequest { Node = new Node { Id = nodeId }, TypeUrl = typeUrl, VersionInfo = acking?.VersionInfo ?? string.Empty, ResponseNonce = acking?.Nonce ?? string.Empty };
        request.ResourceNames.AddRange(names);
        return request;
    }

    private static async Task<DiscoveryResponse> NextAsync(AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> call, string typeUrl, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (await call.ResponseStream.MoveNext(cancel.Token))
        {
            if (call.ResponseStream.Current.TypeUrl == typeUrl)
            {
                return call.ResponseStream.Current;
            }
        }

        throw new InvalidOperationException("the stream ended");
    }

    [Fact]
    public async Task Push_ClientThatNeverReadsOnTheSameConnection_DoesNotDelayTheOther()
    {
        var files = ManyServices(3000);
        foreach (var (name, yaml) in TestYaml.Reviews(80, 20))
        {
            files[name] = yaml;
        }

        await using var cp = await TestControlPlane.StartAsync(files, configure: o => o.XdsLimits.SendTimeout = TimeSpan.FromSeconds(120));
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress, new GrpcChannelOptions { MaxReceiveMessageSize = null });
        var ads = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel);
        using var stuck = ads.StreamAggregatedResources();
        using var healthy = ads.StreamAggregatedResources();

        // The stuck stream asks for every cluster and never reads: its response waits on flow control.
        await stuck.RequestStream.WriteAsync(Request("stuck-node", XdsTypeUrls.Cluster, []));
        await WaitForAsync(() => Cache(cp).BlockedResponseBytes > 0, "the stuck stream's response to count as blocked", cp);

        // The healthy stream on the same HTTP/2 connection follows its listener to its routes.
        await healthy.RequestStream.WriteAsync(Request("healthy-node", XdsTypeUrls.Listener, [Listener]));
        var lds = await NextAsync(healthy, XdsTypeUrls.Listener, TimeSpan.FromSeconds(20));
        await healthy.RequestStream.WriteAsync(Request("healthy-node", XdsTypeUrls.Listener, [Listener], lds));
        var routeName = lds.Resources[0].Unpack<Listener>().ApiListener.ApiListener_.Unpack<Hcm.HttpConnectionManager>().Rds.RouteConfigName;
        await healthy.RequestStream.WriteAsync(Request("healthy-node", XdsTypeUrls.RouteConfiguration, [routeName]));
        var rds = await NextAsync(healthy, XdsTypeUrls.RouteConfiguration, TimeSpan.FromSeconds(20));
        await healthy.RequestStream.WriteAsync(Request("healthy-node", XdsTypeUrls.RouteConfiguration, [routeName], rds));

        var changed = Stopwatch.StartNew();
        await cp.WriteFileAsync("reviews-vs.yaml", TestYaml.ReviewsSplit(50, 50));
        var update = await NextAsync(healthy, XdsTypeUrls.RouteConfiguration, TimeSpan.FromSeconds(30));

        Assert.NotEqual(rds.VersionInfo, update.VersionInfo);
        Assert.True(changed.Elapsed < TimeSpan.FromSeconds(15), $"the healthy client got the change after {changed.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(2, Cache(cp).Connections.Count); // the stuck stream is still held (its send timeout is 120 s), at a bounded cost.
        Assert.InRange(Cache(cp).BlockedResponseBytes, 1, 4 * 1024 * 1024);
    }

    [Fact]
    public async Task Stream_NeverReadingClientOverTheTotalBudget_IsDisconnectedAtOnce_NamingIt()
    {
        await using var cp = await TestControlPlane.StartAsync(ManyServices(3000), configure: o =>
        {
            o.XdsLimits.SendTimeout = TimeSpan.FromSeconds(120);
            o.XdsLimits.MaxBlockedResponseBytes = 64 * 1024;
        });
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
        using var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources();
        var started = Stopwatch.StartNew();

        await call.RequestStream.WriteAsync(Request("hoarding-node", XdsTypeUrls.Cluster, []));

        await WaitForAsync(() => cp.Logs.Entries.Any(e => e.Level == LogLevel.Warning
            && e.Message.Contains("Disconnecting xDS client hoarding-node from", StringComparison.Ordinal)
            && e.Message.Contains("responses waiting for clients that do not read reached", StringComparison.Ordinal)
            && e.Message.Contains("(the limit is 65,536)", StringComparison.Ordinal)), "the disconnect", cp);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(60), "disconnected by the budget, not after the 120 s send timeout");
        await WaitForAsync(() => Cache(cp).Connections.Count == 0, "the stream to be unregistered", cp);
        Assert.Equal(0, Cache(cp).BlockedResponseBytes);
    }
}
