using Envoy.Admin.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Grpc.Core;
using Mesh.Client.Xds;
using Mesh.Xds;
using Xunit.Abstractions;
using static Mesh.Client.Tests.Xds.TestTypes;

namespace Mesh.Client.Tests.Xds;

public class XdsClientTests(ITestOutputHelper output)
{
    private const string Lds = XdsTypeUrls.Listener;
    private const string Eds = XdsTypeUrls.ClusterLoadAssignment;
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(150);

    [Fact]
    public async Task Watch_FirstWatches_OpenOneStreamWithNodeThenFullNameSets()
    {
        await using var h = await XdsClientHarness.StartAsync(output);

        h.Watch(ListenerType, "a");
        var stream = await h.Server.NextStreamAsync();
        var first = await stream.NextRequestAsync();
        h.Watch(ListenerType, "b");
        var second = await stream.NextRequestAsync();

        Assert.Equal(Lds, first.TypeUrl);
        Assert.Equal(["a"], first.ResourceNames);
        Assert.Equal(("", ""), (first.VersionInfo, first.ResponseNonce));
        Assert.Equal("test-node", first.Node.Id);
        Assert.Equal("default", first.Node.Metadata.Fields["NAMESPACE"].StringValue);
        Assert.Equal("Mesh.Client", first.Node.UserAgentName);
        Assert.False(string.IsNullOrEmpty(first.Node.UserAgentVersion));
        Assert.Equal(["envoy.lb.does_not_support_overprovisioning", "xds.config.resource-in-sotw"], first.Node.ClientFeatures);

        Assert.Equal(["a", "b"], second.ResourceNames);
        Assert.Null(second.Node);
        Assert.Equal(1, h.Server.StreamAttempts);
    }

    [Fact]
    public async Task Response_AllValid_DeliversResourcesAndAcksWithVersionAndNonce()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        var (b, _) = h.Watch(ListenerType, "b");
        var stream = await h.Server.NextStreamAsync();
        await WaitForNamesAsync(stream, "a", "b");

        var response = await stream.SendAsync(Lds, "v1", Listener("a", "1"), Listener("b", "1"));
        var ack = await stream.ReplyToAsync(response);

        Assert.Equal(("v1", response.Nonce), (ack.VersionInfo, ack.ResponseNonce));
        Assert.Null(ack.ErrorDetail);
        Assert.Equal(["a", "b"], ack.ResourceNames);
        Assert.Equal("1", (await a.NextChangedAsync<Listener>()).StatPrefix);
        Assert.Equal("b", (await b.NextChangedAsync<Listener>()).Name);

        var status = h.Client.GetStatus();
        Assert.Equal(("v1", response.Nonce), (status.Types[0].AckedVersion, status.Types[0].Nonce));
        Assert.All(status.Resources, r => Assert.Equal((ClientResourceStatus.Acked, "v1"), (r.Status, r.Version)));
        Assert.Equal(XdsConnectionState.Connected, status.Connection.State);
        Assert.Equal(1, status.Counters.Acks);
    }

    [Fact]
    public async Task Response_SameBytesInNewVersion_AckedWithoutNotifyingWatchers()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        var stream = await h.Server.NextStreamAsync();
        await stream.ReplyToAsync(await stream.SendAsync(Lds, "v1", Listener("a", "1")));
        await a.NextChangedAsync<Listener>();

        var ack = await stream.ReplyToAsync(await stream.SendAsync(Lds, "v2", Listener("a", "1")));
        await h.Client.FlushCallbacksAsync();

        Assert.Equal("v2", ack.VersionInfo);
        Assert.Null(a.TryTake());
        Assert.Equal("v2", h.Client.GetStatus().Find(Lds, "a")!.Version);
    }

    [Fact]
    public async Task Response_OneInvalidResource_NacksNamingItAndStillAppliesTheOthers()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        var (b, _) = h.Watch(ListenerType, "b");
        var (c, _) = h.Watch(ListenerType, "c");
        var stream = await h.Server.NextStreamAsync();
        await WaitForNamesAsync(stream, "a", "b", "c");
        await stream.ReplyToAsync(await stream.SendAsync(Lds, "v1", Listener("a", "1"), Listener("b", "1"), Listener("c", "1")));
        var goodB = await b.NextChangedAsync<Listener>();
        await a.NextChangedAsync<Listener>();
        await c.NextChangedAsync<Listener>();

        var bad = await stream.SendAsync(Lds, "v2", Listener("a", "2"), InvalidListener("b", "port 70000 is out of range"), Listener("c", "2"));
        var nack = await stream.ReplyToAsync(bad);

        // NACK: stays on v1, answers v2's nonce, and says which resource was bad and why.
        Assert.Equal(("v1", bad.Nonce), (nack.VersionInfo, nack.ResponseNonce));
        Assert.NotNull(nack.ErrorDetail);
        Assert.Equal(3, nack.ErrorDetail.Code);
        Assert.Contains("'b'", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Contains("port 70000 is out of range", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'a'", nack.ErrorDetail.Message, StringComparison.Ordinal);

        // The valid resources of the same response were applied; the bad one keeps its last good version.
        Assert.Equal("2", (await a.NextChangedAsync<Listener>()).StatPrefix);
        Assert.Equal("2", (await c.NextChangedAsync<Listener>()).StatPrefix);
        var error = await b.NextAsync(WatchEventKind.AmbientError);
        Assert.Contains("port 70000 is out of range", error.Message, StringComparison.Ordinal);
        await h.Client.FlushCallbacksAsync();
        Assert.Null(b.TryTake());

        var status = h.Client.GetStatus();
        var statusB = status.Find(Lds, "b")!;
        Assert.Equal(ClientResourceStatus.Nacked, statusB.Status);
        Assert.Equal("v1", statusB.Version);
        Assert.Equal(goodB, statusB.LastValid!.Unpack<Listener>());
        Assert.Equal("port 70000 is out of range", statusB.ErrorDetail);
        Assert.Equal("v2", statusB.ErrorVersion);
        Assert.Equal((ClientResourceStatus.Acked, "v2"), (status.Find(Lds, "a")!.Status, status.Find(Lds, "a")!.Version));
        Assert.Equal("v1", status.Types[0].AckedVersion);
        Assert.Equal(nack.ErrorDetail.Message, status.Types[0].LastNackDetail);

        // CSDS shows the same.
        var csds = status.ToClientConfig(h.Client.Node);
        var csdsB = csds.GenericXdsConfigs.Single(g => g.Name == "b");
        Assert.Equal(ClientResourceStatus.Nacked, csdsB.ClientStatus);
        Assert.Equal("port 70000 is out of range", csdsB.ErrorState.Details);
        Assert.Equal(goodB, csdsB.XdsConfig.Unpack<Listener>());

        // A later good version is ACKed and clears the error.
        var fixedResponse = await stream.SendAsync(Lds, "v3", Listener("a", "2"), Listener("b", "3"), Listener("c", "2"));
        var ack = await stream.ReplyToAsync(fixedResponse);
        Assert.Equal(("v3", fixedResponse.Nonce, null), (ack.VersionInfo, ack.ResponseNonce, ack.ErrorDetail));
        Assert.Equal("3", (await b.NextChangedAsync<Listener>()).StatPrefix);
        Assert.Equal(ClientResourceStatus.Acked, h.Client.GetStatus().Find(Lds, "b")!.Status);
    }

    [Fact]
    public async Task Response_UnnamedInvalidResource_NacksWithoutDeletingAnything()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        var stream = await h.Server.NextStreamAsync();
        await stream.ReplyToAsync(await stream.SendAsync(Lds, "v1", Listener("a")));
        await a.NextChangedAsync<Listener>();

        // The only resource is not a listener at all: its name cannot be read, so "a" might be it.
        var nack = await stream.ReplyToAsync(await stream.SendAsync(Lds, "v2", Endpoints("a")));
        await h.Client.FlushCallbacksAsync();

        Assert.Contains("resource [0]: not a listener", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Equal("v1", nack.VersionInfo);
        Assert.Null(a.TryTake());
        Assert.Equal(ClientResourceStatus.Acked, h.Client.GetStatus().Find(Lds, "a")!.Status);
    }

    [Fact]
    public async Task Response_ListenerMissingFromLaterResponse_DoesNotExistButEndpointsMissingAreKept()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        var (b, _) = h.Watch(ListenerType, "b");
        var (x, _) = h.Watch(EndpointType, "x");
        var (y, _) = h.Watch(EndpointType, "y");
        var stream = await h.Server.NextStreamAsync();
        await WaitForNamesAsync(stream, "a", "b");
        await WaitForNamesAsync(stream, "x", "y");
        await stream.SendAsync(Lds, "v1", Listener("a"), Listener("b"));
        await stream.SendAsync(Eds, "e1", Endpoints("x"), Endpoints("y"));
        await a.NextChangedAsync<Listener>();
        await b.NextChangedAsync<Listener>();
        await x.NextChangedAsync<ClusterLoadAssignment>();
        await y.NextChangedAsync<ClusterLoadAssignment>();

        await stream.SendAsync(Lds, "v2", Listener("a"));
        await stream.SendAsync(Eds, "e2", Endpoints("x", 2));

        await b.NextAsync(WatchEventKind.DoesNotExist);
        Assert.Equal(2u, (await x.NextChangedAsync<ClusterLoadAssignment>()).Policy.OverprovisioningFactor);
        await h.Client.FlushCallbacksAsync();
        Assert.Null(a.TryTake());
        Assert.Null(y.TryTake());
        var status = h.Client.GetStatus();
        Assert.Equal(ClientResourceStatus.DoesNotExist, status.Find(Lds, "b")!.Status);
        Assert.Null(status.Find(Lds, "b")!.LastValid);
        Assert.Equal(ClientResourceStatus.Acked, status.Find(Eds, "y")!.Status);

        // A new watch of the deleted name learns that it does not exist.
        var (late, _) = h.Watch(ListenerType, "b");
        await late.NextAsync(WatchEventKind.DoesNotExist);

        // It comes back.
        await stream.SendAsync(Lds, "v3", Listener("a"), Listener("b", "back"));
        Assert.Equal("back", (await b.NextChangedAsync<Listener>()).StatPrefix);
    }

    [Fact]
    public async Task Response_ListenerMissingWithIgnoreResourceDeletion_KeepsLastGoodVersion()
    {
        await using var h = await XdsClientHarness.StartAsync(output, features: "\"ignore_resource_deletion\"");
        var (b, _) = h.Watch(ListenerType, "b");
        h.Watch(ListenerType, "a");
        var stream = await h.Server.NextStreamAsync();
        await WaitForNamesAsync(stream, "a", "b");
        await stream.ReplyToAsync(await stream.SendAsync(Lds, "v1", Listener("a"), Listener("b")));
        await b.NextChangedAsync<Listener>();

        var ack = await stream.ReplyToAsync(await stream.SendAsync(Lds, "v2", Listener("a")));
        await h.Client.FlushCallbacksAsync();

        Assert.Equal("v2", ack.VersionInfo);
        Assert.Null(b.TryTake());
        Assert.Equal(ClientResourceStatus.Acked, h.Client.GetStatus().Find(Lds, "b")!.Status);
    }

    [Fact]
    public async Task Watch_SecondWatcherOnCachedName_GetsCachedValueWithoutNewRequest()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (first, firstWatch) = h.Watch(ListenerType, "a");
        var stream = await h.Server.NextStreamAsync();
        await stream.ReplyToAsync(await stream.SendAsync(Lds, "v1", Listener("a", "cached")));
        await first.NextChangedAsync<Listener>();

        var (second, secondWatch) = h.Watch(ListenerType, "a");

        Assert.Equal("cached", (await second.NextChangedAsync<Listener>()).StatPrefix);
        Assert.Equal(2, h.Client.GetStatus().Find(Lds, "a")!.WatcherCount);

        // Neither the second watch nor the end of the first changes the subscription.
        firstWatch.Dispose();
        Assert.Null(await stream.TryNextRequestAsync(Quiet));
        Assert.Equal(1, h.Client.GetStatus().Find(Lds, "a")!.WatcherCount);

        await stream.SendAsync(Lds, "v2", Listener("a", "new"));
        Assert.Equal("new", (await second.NextChangedAsync<Listener>()).StatPrefix);
        await h.Client.FlushCallbacksAsync();
        Assert.Null(first.TryTake());
        secondWatch.Dispose();
    }

    [Fact]
    public async Task Unwatch_LastWatcher_SendsReducedSetAndDropsCacheEntry()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        h.Watch(ListenerType, "a");
        var (b, bWatch) = h.Watch(ListenerType, "b");
        var stream = await h.Server.NextStreamAsync();
        await WaitForNamesAsync(stream, "a", "b");
        var response = await stream.SendAsync(Lds, "v1", Listener("a"), Listener("b"));
        await stream.ReplyToAsync(response);
        await b.NextChangedAsync<Listener>();

        bWatch.Dispose();
        var unsubscribe = await stream.NextRequestAsync();

        Assert.Equal(["a"], unsubscribe.ResourceNames);
        Assert.Equal(("v1", response.Nonce), (unsubscribe.VersionInfo, unsubscribe.ResponseNonce));
        Assert.Null(h.Client.GetStatus().Find(Lds, "b"));
        Assert.Equal(["a"], h.Client.GetStatus().Types[0].SubscribedNames);

        // Watching it again starts from nothing: no cached value, a new request.
        var (again, _) = h.Watch(ListenerType, "b");
        Assert.Equal(["a", "b"], (await stream.NextRequestAsync()).ResourceNames);
        await h.Client.FlushCallbacksAsync();
        Assert.Null(again.TryTake());
        Assert.Equal(ClientResourceStatus.Requested, h.Client.GetStatus().Find(Lds, "b")!.Status);
    }

    [Fact]
    public async Task Unwatch_LastWatcherThenWatchAgainAtOnce_NewWatcherGetsTheListenerFromAServerThatAnswersOnlyChanges()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (first, firstWatch) = h.Watch(ListenerType, "a");
        var stream = await h.Server.NextStreamAsync();
        await WaitForNamesAsync(stream, "a");
        await stream.ReplyToAsync(await stream.SendAsync(Lds, "v1", Listener("a", "cached")));
        await first.NextChangedAsync<Listener>();

        // A channel disposed and a new one opened for the same target: the two usually coalesce into no change.
        firstWatch.Dispose();
        var (again, _) = h.Watch(ListenerType, "a");

        // Answer like a real server: only a changed subscription gets a response (the whole listener state).
        IReadOnlyList<string> subscribed = ["a"];
        while (await stream.TryNextRequestAsync(Quiet) is { } request)
        {
            if (!request.ResourceNames.SequenceEqual(subscribed))
            {
                subscribed = [.. request.ResourceNames];
                await stream.SendAsync(Lds, "v1", subscribed.Contains("a") ? [Listener("a", "cached")] : []);
            }
        }

        Assert.Equal("cached", (await again.NextChangedAsync<Listener>()).StatPrefix);
        Assert.Equal(ClientResourceStatus.Acked, h.Client.GetStatus().Find(Lds, "a")!.Status);
    }

    [Fact]
    public async Task Unwatch_LastNameOfType_SendsEmptyListForThatType()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (_, watch) = h.Watch(EndpointType, "x");
        var stream = await h.Server.NextStreamAsync();
        await stream.NextRequestAsync();

        watch.Dispose();
        var request = await stream.NextRequestAsync();

        Assert.Equal(Eds, request.TypeUrl);
        Assert.Empty(request.ResourceNames);
        Assert.Empty(h.Client.GetStatus().Resources);
    }

    [Fact]
    public async Task DoesNotExistTimer_ConnectedAndNoResponse_FiresAfterFifteenSeconds()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        await (await h.Server.NextStreamAsync()).NextRequestAsync();
        await h.WaitForTimerAsync(Lds, "a");

        h.Time.Advance(TimeSpan.FromSeconds(14.9));
        await h.Client.FlushCallbacksAsync();
        Assert.Null(a.TryTake());

        h.Time.Advance(TimeSpan.FromSeconds(0.2));
        await a.NextAsync(WatchEventKind.DoesNotExist);
        var status = h.Client.GetStatus();
        Assert.Equal((ClientResourceStatus.DoesNotExist, XdsWatchState.TimedOut), (status.Find(Lds, "a")!.Status, status.Find(Lds, "a")!.WatchState));
        Assert.Equal(1, status.Counters.DoesNotExistTimeouts);
    }

    [Fact]
    public async Task DoesNotExistTimer_ResourceArrives_IsCancelled()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        var stream = await h.Server.NextStreamAsync();
        await stream.NextRequestAsync();
        await h.WaitForTimerAsync(Lds, "a");

        h.Time.Advance(TimeSpan.FromSeconds(10));
        await stream.SendAsync(Lds, "v1", Listener("a"));
        await a.NextChangedAsync<Listener>();
        h.Time.Advance(TimeSpan.FromSeconds(60));
        await h.Client.FlushCallbacksAsync();

        Assert.Null(a.TryTake());
        Assert.Equal(XdsWatchState.Received, h.Client.GetStatus().Find(Lds, "a")!.WatchState);
    }

    [Fact]
    public async Task DoesNotExistTimer_ServerUnreachable_NeverStarts()
    {
        // A port nobody listens on: every stream attempt fails to connect.
        var closed = await Mesh.Testing.FakeAdsServer.StartAsync();
        var uri = closed.ServerUri;
        await closed.DisposeAsync();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var client = new XdsClient(
            Mesh.Client.Bootstrap.XdsBootstrap.Parse(XdsClientHarness.BootstrapJson(uri), "test"),
            time,
            XdsClientHarness.CreateLoggerFactory(output)) { JitterSource = () => 0.5 };
        var a = new RecordingWatcher();
        client.Watch(ListenerType, "a", a);

        // Each failed attempt is reported once, as an ambient error.
        var firstError = await a.NextAsync(WatchEventKind.AmbientError);
        Assert.Contains(uri, firstError.Message, StringComparison.Ordinal);
        Assert.Contains("Unavailable", firstError.Message, StringComparison.Ordinal);
        await XdsClientHarness.WaitForBackoffAsync(client, 1);
        time.Advance(TimeSpan.FromSeconds(1));
        await a.NextAsync(WatchEventKind.AmbientError);
        await XdsClientHarness.WaitForBackoffAsync(client, 2);
        time.Advance(TimeSpan.FromSeconds(1.6));
        await a.NextAsync(WatchEventKind.AmbientError);
        await XdsClientHarness.WaitForBackoffAsync(client, 3);
        time.Advance(TimeSpan.FromSeconds(20));
        await a.NextAsync(WatchEventKind.AmbientError);
        await XdsClientHarness.WaitForBackoffAsync(client, 4);
        await client.FlushCallbacksAsync();

        // 22.6 s of fake time with no connection: no does-not-exist.
        Assert.Null(a.TryTake());
        var status = client.GetStatus();
        Assert.Equal((ClientResourceStatus.Requested, XdsWatchState.NotSent), (status.Find(Lds, "a")!.Status, status.Find(Lds, "a")!.WatchState));
        Assert.Equal(4, status.Counters.StreamsFailed);
        Assert.Equal(0, status.Counters.DoesNotExistTimeouts);
    }

    [Fact]
    public async Task DoesNotExistTimer_StreamFailsBeforeExpiry_RestartsOnNextStream()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        var first = await h.Server.NextStreamAsync();
        await first.NextRequestAsync();
        await h.WaitForTimerAsync(Lds, "a");
        h.Time.Advance(TimeSpan.FromSeconds(10));

        // The stream fails before any response: the timer stops while there is no stream.
        first.Kill();
        await a.NextAsync(WatchEventKind.AmbientError);
        await h.WaitForStatusAsync(s => s.Find(Lds, "a")!.WatchState == XdsWatchState.NotSent, "timer stopped");
        await h.WaitForBackoffAsync(1);
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var second = await h.Server.NextStreamAsync();
        await second.NextRequestAsync();
        await h.WaitForTimerAsync(Lds, "a");

        // 15 s counts from the new request, not the first one.
        h.Time.Advance(TimeSpan.FromSeconds(14));
        await h.Client.FlushCallbacksAsync();
        Assert.Null(a.TryTake());
        h.Time.Advance(TimeSpan.FromSeconds(1.1));
        await a.NextAsync(WatchEventKind.DoesNotExist);
    }

    [Fact]
    public async Task Reconnect_AfterStreamWithResponses_ResubscribesEverythingAtOnceWithVersions()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        h.Watch(ListenerType, "b");
        h.Watch(EndpointType, "x");
        var first = await h.Server.NextStreamAsync();
        await WaitForNamesAsync(first, "a", "b");
        await WaitForNamesAsync(first, "x");
        await first.SendAsync(Lds, "v1", Listener("a"), Listener("b"));
        await first.SendAsync(Eds, "e1", Endpoints("x"));
        await a.NextChangedAsync<Listener>();
        await h.WaitForStatusAsync(s => s.Counters.Acks == 2, "two ACKs");

        // The server closes a stream that worked: reconnect without waiting for any backoff.
        first.Close();
        var second = await h.Server.NextStreamAsync();
        var requests = new[] { await second.NextRequestAsync(), await second.NextRequestAsync() }.ToDictionary(r => r.TypeUrl);

        Assert.NotNull(second.Requests[0].Node);
        Assert.Equal("test-node", second.Requests[0].Node.Id);
        Assert.Null(second.Requests[1].Node);
        Assert.Equal(["a", "b"], requests[Lds].ResourceNames);
        Assert.Equal(("v1", ""), (requests[Lds].VersionInfo, requests[Lds].ResponseNonce));
        Assert.Equal(["x"], requests[Eds].ResourceNames);
        Assert.Equal(("e1", ""), (requests[Eds].VersionInfo, requests[Eds].ResponseNonce));

        // gRFC A57: a stream that had received responses ending is not an error for watchers.
        await h.Client.FlushCallbacksAsync();
        Assert.Null(a.TryTake());
        Assert.Equal(1, h.Client.GetStatus().Counters.StreamsClosedAfterResponse);
    }

    [Fact]
    public async Task Reconnect_WhileServerRejectsStreams_CacheKeepsServingAndAllNamesAreResubscribed()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        var (b, _) = h.Watch(ListenerType, "b");
        var first = await h.Server.NextStreamAsync();
        await WaitForNamesAsync(first, "a", "b");
        await first.ReplyToAsync(await first.SendAsync(Lds, "v1", Listener("a", "cached"), Listener("b")));
        await a.NextChangedAsync<Listener>();
        await b.NextChangedAsync<Listener>();

        // The server goes bad: the stream dies and the next attempt fails.
        h.Server.RejectNewStreams = StatusCode.Unavailable;
        first.Kill();
        await h.Server.WaitForStreamAttemptsAsync(2);
        var error = await a.NextAsync(WatchEventKind.AmbientError);
        Assert.True(error.Message!.Contains("Unavailable", StringComparison.Ordinal), error.Message);
        await b.NextAsync(WatchEventKind.AmbientError);
        await h.WaitForBackoffAsync(1);

        // Meanwhile the cache keeps serving, to old and new watchers alike.
        var (late, _) = h.Watch(ListenerType, "a");
        Assert.Equal("cached", (await late.NextChangedAsync<Listener>()).StatPrefix);
        Assert.Equal(ClientResourceStatus.Acked, h.Client.GetStatus().Find(Lds, "a")!.Status);

        // The server recovers; after the backoff the client resubscribes to everything.
        h.Server.RejectNewStreams = null;
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var second = await h.Server.NextStreamAsync();
        var resubscribe = await second.NextRequestAsync();
        Assert.Equal(["a", "b"], resubscribe.ResourceNames);
        Assert.Equal("v1", resubscribe.VersionInfo);
        Assert.Equal("test-node", resubscribe.Node.Id);
        await h.Client.FlushCallbacksAsync();
        Assert.Null(a.TryTake());
    }

    [Fact]
    public async Task Backoff_RepeatedFailures_DelaysGrowAndResetAfterAResponse()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        h.Server.RejectNewStreams = StatusCode.Unavailable;
        h.Watch(ListenerType, "a");

        await h.Server.WaitForStreamAttemptsAsync(1);
        await WaitForRetryDelayAsync(h, 1, TimeSpan.FromSeconds(1));
        h.Time.Advance(TimeSpan.FromSeconds(0.9));
        await Task.Delay(Quiet);
        Assert.Equal(1, h.Server.StreamAttempts);
        h.Time.Advance(TimeSpan.FromSeconds(0.1));
        await h.Server.WaitForStreamAttemptsAsync(2);
        await WaitForRetryDelayAsync(h, 2, TimeSpan.FromSeconds(1.6));
        h.Time.Advance(TimeSpan.FromSeconds(1.6));
        await h.Server.WaitForStreamAttemptsAsync(3);
        await WaitForRetryDelayAsync(h, 3, TimeSpan.FromSeconds(2.56));

        // A stream that gets a response resets the backoff.
        h.Server.RejectNewStreams = null;
        h.Time.Advance(TimeSpan.FromSeconds(2.56));
        var stream = await h.Server.NextStreamAsync();
        await stream.ReplyToAsync(await stream.SendAsync(Lds, "v1", Listener("a")));
        Assert.Equal(0, h.Client.GetStatus().Connection.ConsecutiveFailures);

        h.Server.RejectNewStreams = StatusCode.Unavailable;
        stream.Kill();
        await h.Server.WaitForStreamAttemptsAsync(5);
        await WaitForRetryDelayAsync(h, 1, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Callbacks_WatchAndUnwatchFromInsideACallback_AreAllowed()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var inner = new RecordingWatcher(h.Gate);
        var outer = new RecordingWatcher(h.Gate);
        IDisposable? outerWatch = null;
        var lockFree = false;
        outer.OnEvent = e =>
        {
            if (e.Kind == WatchEventKind.Changed)
            {
                // Another thread can take the client's lock meanwhile: the callback does not run under it.
                var reader = new Thread(() => h.Client.GetStatus());
                reader.Start();
                lockFree = reader.Join(TimeSpan.FromSeconds(5));
                h.Client.Watch(ListenerType, "a", inner);
                outerWatch!.Dispose();
            }
        };
        outerWatch = h.Client.Watch(ListenerType, "a", outer);
        var stream = await h.Server.NextStreamAsync();
        await stream.NextRequestAsync();

        await stream.SendAsync(Lds, "v1", Listener("a", "1"));

        Assert.Equal("1", (await inner.NextChangedAsync<Listener>()).StatPrefix);
        await stream.SendAsync(Lds, "v2", Listener("a", "2"));
        Assert.Equal("2", (await inner.NextChangedAsync<Listener>()).StatPrefix);
        await h.Client.FlushCallbacksAsync();
        Assert.Single(outer.All);
        Assert.True(lockFree);
        Assert.Equal(1, h.Client.GetStatus().Find(Lds, "a")!.WatcherCount);
        Assert.Equal(0, h.Gate.Overlaps);
    }

    [Fact]
    public async Task Callbacks_ManyWatchersAndUpdates_NeverOverlap()
    {
        await using var h = await XdsClientHarness.StartAsync(output);
        var names = Enumerable.Range(0, 20).Select(i => $"l{i}").ToArray();
        var watchers = names.SelectMany(n => new[] { h.Watch(ListenerType, n).Watcher, h.Watch(ListenerType, n).Watcher }).ToList();
        var stream = await h.Server.NextStreamAsync();
        await WaitForNamesAsync(stream, names);

        for (var v = 1; v <= 5; v++)
        {
            await stream.SendAsync(Lds, $"v{v}", [.. names.Select(n => Listener(n, $"{v}"))]);
        }

        await h.WaitForStatusAsync(s => s.Types[0].AckedVersion == "v5", "v5 acked");
        await h.Client.FlushCallbacksAsync();
        Assert.All(watchers, w => Assert.Equal("5", Assert.IsType<Listener>(w.All[^1].Resource).StatPrefix));
        Assert.Equal(0, h.Gate.Overlaps);
    }

    [Fact]
    public async Task DisposeAsync_WithOpenWatches_StopsCallbacksAndRejectsNewWatches()
    {
        var h = await XdsClientHarness.StartAsync(output);
        var (a, _) = h.Watch(ListenerType, "a");
        var stream = await h.Server.NextStreamAsync();
        await stream.NextRequestAsync();
        await h.WaitForTimerAsync(Lds, "a");

        await h.Client.DisposeAsync();
        h.Time.Advance(TimeSpan.FromSeconds(30));

        await stream.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Empty(a.All);
        Assert.Throws<ObjectDisposedException>(() => h.Client.Watch(ListenerType, "b", new RecordingWatcher()));
        Assert.Equal(XdsConnectionState.Shutdown, h.Client.GetStatus().Connection.State);
        await h.DisposeAsync();
    }

    /// <summary>Waits until the server has seen a request subscribing to all of <paramref name="names"/>.</summary>
    private static Task<Envoy.Service.Discovery.V3.DiscoveryRequest> WaitForNamesAsync(Mesh.Testing.FakeAdsStream stream, params string[] names) =>
        stream.WaitForRequestAsync(r => names.All(r.ResourceNames.Contains));

    private static Task<XdsClientStatus> WaitForRetryDelayAsync(XdsClientHarness h, int failures, TimeSpan delay) =>
        h.WaitForStatusAsync(
            s => s.Connection.ConsecutiveFailures == failures && s.Connection.RetryDelay == delay,
            $"{failures} failures, retry in {delay}");
}
