using System.Diagnostics;
using Envoy.Config.Listener.V3;
using Envoy.Service.Discovery.V3;
using Mesh.Client.Bootstrap;
using Mesh.Client.Xds;
using Mesh.Testing;
using Mesh.Xds;
using Xunit.Abstractions;
using static Mesh.Client.Tests.Xds.TestTypes;

namespace Mesh.Client.Tests.Xds;

/// <summary>gRFC A71 fallback across the bootstrap's xds_servers, and HTTP/2 keepalive on the xDS connection.</summary>
public sealed class XdsFallbackTests(ITestOutputHelper output)
{
    private static XdsBootstrap Bootstrap(params string[] servers) => XdsBootstrap.Parse(
        $$$"""{"xds_servers": [{{{string.Join(", ", servers.Select(s => $$"""{"server_uri": "{{s}}", "channel_creds": [{"type": "insecure"}]}"""))}}}], "node": {"id": "fallback-test"}}""",
        "test");

    private XdsClient Client(XdsBootstrap bootstrap) => new(bootstrap, TimeProvider.System, XdsClientHarness.CreateLoggerFactory(output))
    {
        KeepAliveInterval = TimeSpan.FromSeconds(1),
        KeepAliveTimeout = TimeSpan.FromSeconds(1),
        PrimaryRetryInterval = TimeSpan.FromMilliseconds(500),
        BackoffPolicy = new XdsBackoffPolicy(TimeSpan.FromMilliseconds(100), 1.6, 0, TimeSpan.FromSeconds(1)),
        JitterSource = () => 0.5,
    };

    [Fact]
    public async Task PrimaryFrozen_KeepaliveNoticesIt_MissingResourcesComeFromTheFallback_ThenThePrimaryAgain()
    {
        await using var primary = await FakeAdsServer.StartAsync();
        await using var fallback = await FakeAdsServer.StartAsync();
        await using var proxy = new FreezableTcpProxy(primary.Address.Port);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var servingPrimary = ServeEveryStreamAsync(primary, "primary", cts.Token);
        var servingFallback = ServeEveryStreamAsync(fallback, "fallback", cts.Token);
        var primaryUri = $"127.0.0.1:{proxy.Port}";
        await using var client = Client(Bootstrap(primaryUri, fallback.ServerUri));
        var a = new RecordingWatcher();
        using var watchA = client.Watch(ListenerType, "a", a);
        Assert.Equal("primary", (await a.NextChangedAsync<Listener>()).StatPrefix);

        // The primary freezes: TCP stays open, nothing moves. A new resource is then missing.
        proxy.Frozen = true;
        var clock = Stopwatch.StartNew();
        var b = new RecordingWatcher();
        using var watchB = client.Watch(ListenerType, "b", b);
        var fromFallback = await NextValueAsync(b);
        clock.Stop();

        Assert.Equal("fallback", fromFallback.StatPrefix);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed} (keepalive 1 s + 1 s, twice)");
        Assert.Equal(fallback.ServerUri, client.GetStatus().ServerUri);

        // The primary comes back: the client returns to it.
        proxy.Frozen = false;
        await WaitUntilAsync(() => client.GetStatus().ServerUri == primaryUri && client.GetStatus().Connection.State == XdsConnectionState.Connected);
        await WaitUntilAsync(() => primary.Streams.Any(s => s.Requests.Any(r => r.ResourceNames.Contains("b") && r.ErrorDetail is null && r.ResponseNonce.Length > 0)));

        // A resource already held was never lost on the way.
        var eventsOfA = new List<WatchEvent>();
        while (a.TryTake() is { } e)
        {
            eventsOfA.Add(e);
        }

        Assert.DoesNotContain(eventsOfA, e => e.Kind == WatchEventKind.DoesNotExist);
        Assert.NotNull(client.GetStatus().Find(XdsTypeUrls.Listener, "a")!.LastValid);
        await cts.CancelAsync();
        await Task.WhenAll(servingPrimary, servingFallback);
    }

    [Fact]
    public async Task PrimaryStopped_NothingMissing_StaysOnPrimary_MissingResource_GoesToFallback()
    {
        var primary = await FakeAdsServer.StartAsync();
        await using var fallback = await FakeAdsServer.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var servingPrimary = ServeEveryStreamAsync(primary, "primary", cts.Token);
        var servingFallback = ServeEveryStreamAsync(fallback, "fallback", cts.Token);
        await using var client = Client(Bootstrap(primary.ServerUri, fallback.ServerUri));
        var a = new RecordingWatcher();
        using var watchA = client.Watch(ListenerType, "a", a);
        Assert.Equal("primary", (await a.NextChangedAsync<Listener>()).StatPrefix);

        await primary.DisposeAsync();
        await WaitUntilAsync(() => client.GetStatus().Counters.StreamsFailed >= 2);

        // Nothing is missing: no reason to fall back (A71).
        Assert.Equal(primary.ServerUri, client.GetStatus().ServerUri);
        Assert.Equal(0, fallback.StreamAttempts);

        var b = new RecordingWatcher();
        using var watchB = client.Watch(ListenerType, "b", b);

        Assert.Equal("fallback", (await NextValueAsync(b)).StatPrefix);
        Assert.Equal(fallback.ServerUri, client.GetStatus().ServerUri);
        await cts.CancelAsync();
        await Task.WhenAll(servingPrimary, servingFallback);
    }

    private static async Task ServeEveryStreamAsync(FakeAdsServer server, string tag, CancellationToken cancellationToken)
    {
        var streams = new List<Task>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                FakeAdsStream stream;
                try
                {
                    stream = await server.NextStreamAsync(TimeSpan.FromSeconds(1));
                }
                catch (TimeoutException)
                {
                    continue;
                }

                streams.Add(ServeAsync(stream, tag, cancellationToken));
            }
        }
        catch (ObjectDisposedException)
        {
        }

        await Task.WhenAll(streams);
    }

    private static async Task ServeAsync(FakeAdsStream stream, string tag, CancellationToken cancellationToken)
    {
        var subscribed = new Dictionary<string, string>(StringComparer.Ordinal);
        var version = 0;
        while (!cancellationToken.IsCancellationRequested && !stream.Completion.IsCompleted)
        {
            DiscoveryRequest request;
            try
            {
                request = await stream.NextRequestAsync(TimeSpan.FromMilliseconds(500));
            }
            catch (TimeoutException)
            {
                continue;
            }
            catch (InvalidOperationException)
            {
                return; // the stream ended (the client left, or the server was stopped)
            }

            var names = string.Join(",", request.ResourceNames.Order(StringComparer.Ordinal));
            if (subscribed.TryGetValue(request.TypeUrl, out var previous) && previous == names)
            {
                continue;
            }

            subscribed[request.TypeUrl] = names;
            try
            {
                await stream.SendAsync(request.TypeUrl, (++version).ToString(System.Globalization.CultureInfo.InvariantCulture), request.ResourceNames.Select(n => Listener(n, tag)).ToArray());
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException or Grpc.Core.RpcException or OperationCanceledException)
            {
                return; // the stream ended
            }
        }
    }

    /// <summary>The next value a watcher gets; stream errors on the way are fine, a does-not-exist is not.</summary>
    private static async Task<Listener> NextValueAsync(RecordingWatcher watcher)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException("no value in time");
            }

            var next = await watcher.NextAsync(remaining);
            Assert.NotEqual(WatchEventKind.DoesNotExist, next.Kind);
            if (next.Kind == WatchEventKind.Changed)
            {
                return Assert.IsType<Listener>(next.Resource);
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("the condition never held");
    }
}
