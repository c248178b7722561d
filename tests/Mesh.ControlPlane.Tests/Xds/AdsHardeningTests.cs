using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.ControlPlane.Tests.Security;
using Mesh.ControlPlane.Xds;
using Mesh.Testing;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Tests.Xds;

/// <summary>The adversarial review's ADS findings: each abusive client is bounded and disconnected, naming it.</summary>
public class AdsHardeningTests
{
    private const string ServerListener = "grpc/server?xds.resource.listening_address=127.0.0.1:20001";

    /// <summary>Reviews with a service account on its endpoints, so that identities can be matched against it.</summary>
    private const string ReviewsWithIdentity = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: reviews
          namespace: default
        spec:
          hosts: [reviews.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - {number: 9080, name: grpc, protocol: GRPC}
          endpoints:
          - {address: 127.0.0.1, ports: {grpc: 20001}, labels: {app: reviews, version: v1}, serviceAccount: reviews}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: reviews-viewer
          namespace: default
        spec:
          selector:
            matchLabels: {app: reviews}
          action: ALLOW
          rules:
          - from:
            - source:
                principals: [cluster.local/ns/default/sa/productpage]
        """;

    private static Dictionary<string, string> ManyServices(int count)
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

    private static int Connections(TestControlPlane cp) => cp.Services.GetRequiredService<XdsResourceCache>().Connections.Count;

    private static async Task WaitForAsync(Func<bool> condition, string what, int seconds = 20, TestControlPlane? cp = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        Assert.True(condition(), "timed out waiting for " + what + (cp is null ? string.Empty
            : "; the control plane logged:\n" + string.Join("\n", cp.Logs.Entries.TakeLast(15).Select(e => $"{e.Level} {e.Category}: {e.Message[..Math.Min(e.Message.Length, 300)]}"))));
    }

    private static bool Logged(TestControlPlane cp, LogLevel level, params string[] parts) =>
        cp.Logs.Entries.Any(e => e.Level == level && parts.All(p => e.Message.Contains(p, StringComparison.Ordinal)));

    private static DiscoveryRequest Request(string nodeId, string typeUrl, params string[] names)
    {
        var request = new DiscoveryRequest { Node = new Node { Id = nodeId }, TypeUrl = typeUrl };
        request.ResourceNames.AddRange(names);
        return request;
    }

    [Fact]
    public async Task Stream_ClientThatNeverReads_IsDisconnectedAfterTheSendTimeout_NamingIt()
    {
        // 3,000 clusters: a wildcard CDS response far larger than the client's HTTP/2 window, so it cannot go out.
        await using var cp = await TestControlPlane.StartAsync(ManyServices(3000), configure: o => o.XdsLimits.SendTimeout = TimeSpan.FromSeconds(1));
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
        using var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources();

        await call.RequestStream.WriteAsync(Request("stuck-node", XdsTypeUrls.Cluster));

        await WaitForAsync(() => Logged(cp, LogLevel.Warning, "Disconnecting xDS client stuck-node from", "did not read a response for 1 s"), "the disconnect", cp: cp);
        await WaitForAsync(() => Connections(cp) == 0, "the stream to be unregistered", cp: cp);
    }

    [Fact]
    public async Task Stream_ClientSendingWhileNotReading_IsDisconnectedAtTheRequestBacklogBound()
    {
        await using var cp = await TestControlPlane.StartAsync(ManyServices(3000));
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
        using var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources();
        await call.RequestStream.WriteAsync(Request("flooding-node", XdsTypeUrls.Cluster));

        // The response is stuck behind flow control; every further request would queue behind it.
        for (var i = 0; i < 5000 && !Logged(cp, LogLevel.Warning, "Disconnecting xDS client flooding-node"); i++)
        {
            try
            {
                await call.RequestStream.WriteAsync(Request("flooding-node", XdsTypeUrls.Listener, "listener-" + (i % 2)));
            }
            catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException)
            {
                break; // the server reset the stream.
            }
        }

        await WaitForAsync(() => Logged(cp, LogLevel.Warning, "Disconnecting xDS client flooding-node", "it sent 1001 requests", "the limit is 1000 requests"), "the disconnect", cp: cp);
        await WaitForAsync(() => Connections(cp) == 0, "the stream to be unregistered", cp: cp);
    }

    [Fact]
    public async Task Request_1000MadeUpServerListeners_DisconnectsWithoutBuildingThem()
    {
        // Even in the development mode, where claims are trusted, made-up names are bounded.
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress, nodeId: "greedy-node");

        await client.SendAsync(XdsTypeUrls.Listener, Enumerable.Range(0, 1000).Select(i => $"grpc/server?xds.resource.listening_address=10.0.{i / 250}.{i % 250}:80"));

        await Assert.ThrowsAnyAsync<Exception>(() => client.ReceiveAsync(TimeSpan.FromSeconds(10)));
        Assert.True(Logged(cp, LogLevel.Warning, "Disconnecting xDS client greedy-node", "more than 64 server listeners"));
        await WaitForAsync(() => Connections(cp) == 0, "the stream to be unregistered");
    }

    [Fact]
    public async Task Request_100000MadeUpServerListeners_IsRefusedWithoutA100MBResponse()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress, nodeId: "huge-node");
        var allocatedBefore = GC.GetTotalAllocatedBytes();

        try
        {
            await client.SendAsync(XdsTypeUrls.Listener, Enumerable.Range(0, 100_000).Select(i => $"grpc/server?xds.resource.listening_address=10.{i / 65536}.{i / 256 % 256}.{i % 256}:80"));
        }
        catch (RpcException)
        {
            // The 5 MB request is over the control plane's 4 MB message limit: the call is failed while it is sent.
        }

        await Assert.ThrowsAnyAsync<Exception>(() => client.ReceiveAsync(TimeSpan.FromSeconds(20)));
        await WaitForAsync(() => Connections(cp) == 0, "the stream to end");
        var allocated = GC.GetTotalAllocatedBytes() - allocatedBefore;
        Assert.True(allocated < 100L * 1024 * 1024, $"the process allocated {allocated:N0} bytes; the bound is 100 MB (the review saw a 108 MB response built)");
    }

    [Fact]
    public async Task Request_MoreNamesThanTheLimit_Disconnects()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress, nodeId: "many-names");

        await client.SendAsync(XdsTypeUrls.Cluster, Enumerable.Range(0, 20_000).Select(i => "c" + i));

        await Assert.ThrowsAnyAsync<Exception>(() => client.ReceiveAsync(TimeSpan.FromSeconds(10)));
        Assert.True(Logged(cp, LogLevel.Warning, "Disconnecting xDS client many-names", "subscribed to 20000 names", "the limit is 10000"));
    }

    [Fact]
    public async Task Node_1MiBIds_OnTwentyStreams_AreRefused_AndSynczStaysSmall()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        var hugeId = new string('n', 1024 * 1024);
        var clients = new List<AdsTestClient>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                var client = new AdsTestClient(cp.XdsAddress, nodeId: hugeId);
                clients.Add(client);
                await client.SendAsync(XdsTypeUrls.Listener, ["reviews.default.svc.cluster.local:9080"]);
            }

            await WaitForAsync(() => cp.Logs.Entries.Count(e => e.Level == LogLevel.Warning && e.Message.Contains("its node id has 1048576 characters (the limit is 1024)", StringComparison.Ordinal)) == 20, "20 refusals", cp: cp);
            await WaitForAsync(() => Connections(cp) == 0, "the streams to end");
            var syncz = await cp.Http.GetStringAsync("/debug/syncz");
            Assert.True(syncz.Length < 64 * 1024, $"/debug/syncz is {syncz.Length:N0} characters");
            Assert.True(cp.Logs.Entries.Sum(e => e.Message.Length) < 1024 * 1024, "no log line carries the whole node id");
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Nacks_500Of100KB_LoggedRateLimitedAndTruncated()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20), configure: o =>
        {
            o.XdsLimits.MaxPendingRequests = 1000;
            o.XdsLimits.MaxPendingRequestBytes = 512 * 1024 * 1024; // this test is about the log, not the backlog.
        });
        await using var client = new AdsTestClient(cp.XdsAddress, nodeId: "nacking-node");
        string[] names = ["reviews.default.svc.cluster.local:9080"];
        await client.SendAsync(XdsTypeUrls.Listener, names);
        var response = await client.ReceiveAsync(XdsTypeUrls.Listener);
        var detail = new string('x', 100 * 1024);

        for (var i = 0; i < 500; i++)
        {
            await client.NackAsync(response, names, string.Empty, detail);
        }

        await client.AckAsync(response, names);
        await WaitForAsync(() => cp.GetJsonAsync("/debug/syncz").Result.AsArray().Any(c => c!["types"]!.AsArray().Any(t => t!["ackedVersion"] is { } acked && (string?)acked == (string?)t["sentVersion"])), "the final ACK", cp: cp);
        var nackLines = cp.Logs.Entries.Where(e => e.Message.Contains("xDS client nacking-node rejected", StringComparison.Ordinal)).ToList();
        Assert.InRange(nackLines.Count, 1, 10);
        var logged = nackLines.Sum(e => e.Message.Length);
        Assert.True(logged < 20 * 1024, $"{logged:N0} characters of NACK log; the review saw 50 MB");
        Assert.Contains("more characters", nackLines[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_ClientCancels_EndsQuietlyAtInformationWithoutStackTraces()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
        using var cancel = new CancellationTokenSource();
        var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources(cancellationToken: cancel.Token);
        await call.RequestStream.WriteAsync(Request("leaving-node", XdsTypeUrls.Listener, "reviews.default.svc.cluster.local:9080"));
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        await cancel.CancelAsync(); // RST_STREAM(CANCEL), as a client shutting down or giving up does.
        call.Dispose();

        await WaitForAsync(() => Connections(cp) == 0, "the stream to end");
        await WaitForAsync(() => Logged(cp, LogLevel.Information, "xDS client leaving-node", "disconnected after"), "the disconnect line");
        await Task.Delay(200); // anything Grpc.AspNetCore would log after the method returned
        Assert.DoesNotContain(cp.Logs.Exceptions, e => e.Level >= LogLevel.Warning);
        Assert.DoesNotContain(cp.Logs.Entries, e => e.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task Keepalive_PeerFrozenWithTcpOpen_StreamIsDroppedWithinTheConfiguredTime()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20), configure: o =>
        {
            o.KeepAliveInterval = TimeSpan.FromSeconds(1);
            o.KeepAliveTimeout = TimeSpan.FromSeconds(1);
        });
        await using var proxy = new FreezableTcpProxy(cp.XdsAddress);
        await using var client = new AdsTestClient(proxy.Address, nodeId: "frozen-node");
        await client.SendAsync(XdsTypeUrls.Listener, ["reviews.default.svc.cluster.local:9080"]);
        await client.ReceiveAsync(XdsTypeUrls.Listener);
        Assert.Equal(1, Connections(cp));

        proxy.Freeze(); // the process is stopped: its TCP connection stays open, nothing answers.
        var frozenAt = DateTime.UtcNow;

        await WaitForAsync(() => Connections(cp) == 0, "keepalive to drop the stream", seconds: 15);
        Assert.True(DateTime.UtcNow - frozenAt < TimeSpan.FromSeconds(10), "dropped within interval + timeout plus Kestrel's 1 s heartbeat, generously");
    }

    [Fact]
    public async Task ServerListener_ClaimedLabelsOnPlaintext_NotSent()
    {
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["reviews.yaml"] = ReviewsWithIdentity }, configure: o => o.InsecureIdentityFromMetadata = false);
        await using var client = new AdsTestClient(cp.XdsAddress, nodeId: "impostor");
        client.Node.Metadata.Fields["LABELS"] = Value.ForStruct(new Struct { Fields = { ["app"] = Value.ForString("reviews") } });

        await client.SendAsync(XdsTypeUrls.Listener, [ServerListener]);
        var response = await client.ReceiveAsync(XdsTypeUrls.Listener);

        Assert.Empty(response.Resources);
        Assert.True(Logged(cp, LogLevel.Warning, "xDS client impostor", ServerListener, "the client proved no identity", "not sent"));
    }

    [Fact]
    public async Task ServerListener_ClaimedLabelsOnPlaintext_SentInDevelopmentMode()
    {
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["reviews.yaml"] = ReviewsWithIdentity }, configure: o => o.InsecureIdentityFromMetadata = true);
        await using var client = new AdsTestClient(cp.XdsAddress, nodeId: "dev");
        client.Node.Metadata.Fields["LABELS"] = Value.ForStruct(new Struct { Fields = { ["app"] = Value.ForString("reviews") } });

        await client.SendAsync(XdsTypeUrls.Listener, [ServerListener]);
        var response = await client.ReceiveAsync(XdsTypeUrls.Listener);

        Assert.Single(response.Resources);
    }

    [Theory]
    [InlineData("reviews", true)]
    [InlineData("ratings", false)]
    [InlineData(null, false)]
    public async Task ServerListener_OnTheTlsPort_SentOnlyToTheMatchingCertificate(string? serviceAccount, bool sent)
    {
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["reviews.yaml"] = ReviewsWithIdentity }, configure: o => o.InsecureIdentityFromMetadata = false);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = serviceAccount is null ? null : X509Certificate2.CreateFromPem(
            cp.CertificateAuthority.Sign(CertificateSigningTests.Csr(key, $"spiffe://cluster.local/ns/default/sa/{serviceAccount}"), new SpiffeId("cluster.local", "default", serviceAccount), TimeSpan.FromHours(1))[0]).CopyWithPrivateKey(key);
        var root = cp.CertificateAuthority.RootCertificate;
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, server, _, _) =>
                {
                    using var copy = X509CertificateLoader.LoadCertificate(server!.GetRawCertData());
                    return CertificateSigningTests.ChainsTo(copy, root);
                },
                ClientCertificates = certificate is null ? null : [certificate],
            },
        };
        await using var client = new AdsTestClient(cp.TlsAddress, nodeId: "tls-" + (serviceAccount ?? "anonymous"), handler: handler);
        client.Node.Metadata.Fields["LABELS"] = Value.ForStruct(new Struct { Fields = { ["app"] = Value.ForString("reviews") } });

        await client.SendAsync(XdsTypeUrls.Listener, [ServerListener]);
        var response = await client.ReceiveAsync(XdsTypeUrls.Listener);

        Assert.Equal(sent ? 1 : 0, response.Resources.Count);
        if (!sent)
        {
            Assert.True(Logged(cp, LogLevel.Warning, "xDS client tls-", "not sent"));
        }
    }

    [Fact]
    public async Task ConfigDump_NodeMetadataWithAnEmptyValue_Answers200()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress, nodeId: "empty-value");
        client.Node.Metadata.Fields["EMPTY"] = new Value();
        client.Node.Metadata.Fields["NESTED"] = Value.ForList(new Value(), Value.ForStruct(new Struct { Fields = { ["x"] = new Value() } }));
        await client.SendAsync(XdsTypeUrls.Listener, ["reviews.default.svc.cluster.local:9080"]);
        await client.ReceiveAsync(XdsTypeUrls.Listener);

        using var response = await cp.Http.GetAsync("/debug/config_dump?node=empty-value");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var dump = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("empty-value", (string?)dump["node"]!["id"]);
    }
}
