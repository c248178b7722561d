using System.Threading.Channels;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Mesh.Client.Bootstrap;
using Mesh.Client.Xds;
using Mesh.Testing;
using Mesh.Xds;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Xds;

/// <summary>Resource types with trivial decoders, standing in for the real LDS and EDS decoders.</summary>
internal static class TestTypes
{
    /// <summary>The prefix of a listener's stat_prefix that makes the test decoder reject it; the rest is the reason.</summary>
    public const string InvalidPrefix = "invalid:";

    /// <summary>Listeners: all resources required in every response. A stat_prefix "invalid:why" is rejected.</summary>
    public static XdsResourceType ListenerType { get; } = new()
    {
        TypeUrl = XdsTypeUrls.Listener,
        AllResourcesRequiredInSotW = true,
        Decode = any =>
        {
            if (!any.TryUnpack<Listener>(out var listener))
            {
                return XdsDecodeResult.Failure(null, "not a listener");
            }

            return listener.StatPrefix.StartsWith(InvalidPrefix, StringComparison.Ordinal)
                ? XdsDecodeResult.Failure(listener.Name, listener.StatPrefix[InvalidPrefix.Length..])
                : XdsDecodeResult.Success(listener.Name, listener);
        },
    };

    /// <summary>Endpoints: a response may carry only some of the subscribed resources.</summary>
    public static XdsResourceType EndpointType { get; } = new()
    {
        TypeUrl = XdsTypeUrls.ClusterLoadAssignment,
        AllResourcesRequiredInSotW = false,
        Decode = any => any.TryUnpack<ClusterLoadAssignment>(out var cla)
            ? XdsDecodeResult.Success(cla.ClusterName, cla)
            : XdsDecodeResult.Failure(null, "not a ClusterLoadAssignment"),
    };

    public static Listener Listener(string name, string tag = "") => new() { Name = name, StatPrefix = tag };

    public static Listener InvalidListener(string name, string reason) => new() { Name = name, StatPrefix = InvalidPrefix + reason };

    public static ClusterLoadAssignment Endpoints(string name, int weight = 1) =>
        new() { ClusterName = name, Policy = new ClusterLoadAssignment.Types.Policy { OverprovisioningFactor = (uint)weight } };
}

internal enum WatchEventKind
{
    Changed,
    DoesNotExist,
    AmbientError,
}

internal sealed record WatchEvent(WatchEventKind Kind, object? Resource, string? Message);

/// <summary>Counts callbacks that ran at once among the watchers sharing it (the watchers of one client).</summary>
internal sealed class CallbackGate
{
    private int _concurrent;
    private int _overlaps;

    public int Overlaps => Volatile.Read(ref _overlaps);

    public void Enter()
    {
        if (Interlocked.Increment(ref _concurrent) > 1)
        {
            Interlocked.Increment(ref _overlaps);
        }
    }

    public void Exit() => Interlocked.Decrement(ref _concurrent);
}

/// <summary>A watcher that records every callback and, with a <see cref="CallbackGate"/>, checks they never overlap.</summary>
internal sealed class RecordingWatcher(CallbackGate? gate = null) : IXdsWatcher
{
    private readonly Channel<WatchEvent> _events = Channel.CreateUnbounded<WatchEvent>();
    private readonly List<WatchEvent> _all = [];
    private readonly Lock _lock = new();

    /// <summary>Runs inside each callback, after recording it.</summary>
    public Action<WatchEvent>? OnEvent { get; set; }

    public IReadOnlyList<WatchEvent> All
    {
        get
        {
            lock (_lock)
            {
                return [.. _all];
            }
        }
    }

    public void OnResourceChanged(object resource) => Record(new WatchEvent(WatchEventKind.Changed, resource, null));

    public void OnResourceDoesNotExist() => Record(new WatchEvent(WatchEventKind.DoesNotExist, null, null));

    public void OnAmbientError(string message) => Record(new WatchEvent(WatchEventKind.AmbientError, null, message));

    /// <summary>The next event, or a TimeoutException.</summary>
    public async Task<WatchEvent> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(5));
        try
        {
            return await _events.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("the watcher was not called in time");
        }
    }

    /// <summary>The next event, which must be a change to a <typeparamref name="T"/>.</summary>
    public async Task<T> NextChangedAsync<T>()
    {
        var next = await NextAsync();
        Assert.True(next.Kind == WatchEventKind.Changed, $"expected a change, got {next}");
        return Assert.IsType<T>(next.Resource);
    }

    /// <summary>The next event, which must be of <paramref name="kind"/>.</summary>
    public async Task<WatchEvent> NextAsync(WatchEventKind kind)
    {
        var next = await NextAsync();
        Assert.True(next.Kind == kind, $"expected {kind}, got {next}");
        return next;
    }

    /// <summary>An event already delivered and not yet taken, if any (call after <c>FlushCallbacksAsync</c>).</summary>
    public WatchEvent? TryTake() => _events.Reader.TryRead(out var next) ? next : null;

    private void Record(WatchEvent watchEvent)
    {
        gate?.Enter();
        try
        {
            lock (_lock)
            {
                _all.Add(watchEvent);
            }

            // Widen the window in which an overlapping callback would be seen.
            Thread.SpinWait(1000);
            _events.Writer.TryWrite(watchEvent);
            OnEvent?.Invoke(watchEvent);
        }
        finally
        {
            gate?.Exit();
        }
    }
}

/// <summary>An <see cref="XdsClient"/> on fake time, talking to a <see cref="FakeAdsServer"/>.</summary>
internal sealed class XdsClientHarness : IAsyncDisposable
{
    private XdsClientHarness(FakeAdsServer server, FakeTimeProvider time, XdsClient client)
    {
        Server = server;
        Time = time;
        Client = client;
    }

    public FakeAdsServer Server { get; }

    public FakeTimeProvider Time { get; }

    public XdsClient Client { get; }

    /// <summary>Shared by the watchers <see cref="Watch"/> creates: counts overlapping callbacks.</summary>
    public CallbackGate Gate { get; } = new();

    public static string BootstrapJson(string serverUri, string features = "") => $$"""
        {
          "xds_servers": [{ "server_uri": "{{serverUri}}", "channel_creds": [{ "type": "insecure" }], "server_features": [{{features}}] }],
          "node": { "id": "test-node", "cluster": "test", "metadata": { "NAMESPACE": "default" } }
        }
        """;

    /// <summary>
    /// Starts a fake server and a client on fake time whose backoff has no jitter (delays 1 s, 1.6 s, 2.56 s…),
    /// logging to <paramref name="output"/> when given.
    /// </summary>
    public static async Task<XdsClientHarness> StartAsync(ITestOutputHelper? output = null, string features = "")
    {
        var server = await FakeAdsServer.StartAsync();
        var time = new FakeTimeProvider();
        var bootstrap = XdsBootstrap.Parse(BootstrapJson(server.ServerUri, features), "test");
        var client = new XdsClient(bootstrap, time, CreateLoggerFactory(output)) { JitterSource = () => 0.5 };
        return new XdsClientHarness(server, time, client);
    }

    /// <summary>A logger factory writing the client's debug logs to the test output.</summary>
    public static ILoggerFactory CreateLoggerFactory(ITestOutputHelper? output) => output is null
        ? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance
        : LoggerFactory.Create(logging => logging
            .SetMinimumLevel(LogLevel.Debug)
            .AddFilter("Grpc", LogLevel.Warning)
            .AddProvider(new TestOutputLoggerProvider(output)));

    /// <summary>Watches with a new recording watcher.</summary>
    public (RecordingWatcher Watcher, IDisposable Watch) Watch(XdsResourceType type, string name)
    {
        var watcher = new RecordingWatcher(Gate);
        return (watcher, Client.Watch(type, name, watcher));
    }

    /// <summary>Polls the client's status until <paramref name="condition"/> holds (real time, 5 s).</summary>
    public Task<XdsClientStatus> WaitForStatusAsync(Func<XdsClientStatus, bool> condition, string what) =>
        WaitForStatusAsync(Client, condition, what);

    /// <summary>Polls <paramref name="client"/>'s status until <paramref name="condition"/> holds (real time, 5 s).</summary>
    public static async Task<XdsClientStatus> WaitForStatusAsync(XdsClient client, Func<XdsClientStatus, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var status = client.GetStatus();
            if (condition(status))
            {
                return status;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for: {what}; status: {status}");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Waits until the client waits out a backoff delay after <paramref name="failures"/> failures in a row.</summary>
    public Task<XdsClientStatus> WaitForBackoffAsync(int failures) => WaitForBackoffAsync(Client, failures);

    /// <summary>Waits until <paramref name="client"/> waits out a backoff delay after <paramref name="failures"/> failures in a row.</summary>
    public static Task<XdsClientStatus> WaitForBackoffAsync(XdsClient client, int failures) =>
        WaitForStatusAsync(
            client,
            s => s.Connection.State == XdsConnectionState.TransientFailure && s.Connection.ConsecutiveFailures == failures && s.Connection.RetryDelay is not null,
            $"backing off after {failures} failures");

    /// <summary>Waits until the does-not-exist timer of <paramref name="name"/> runs.</summary>
    public Task WaitForTimerAsync(string typeUrl, string name) =>
        WaitForStatusAsync(s => s.Find(typeUrl, name)?.WatchState == XdsWatchState.Requested, $"{name} requested");

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}

/// <summary>Writes log messages to xunit's test output (which shows them when a test fails).</summary>
internal sealed class TestOutputLoggerProvider(ITestOutputHelper output) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(output, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(ITestOutputHelper output, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            try
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}");
            }
            catch (InvalidOperationException)
            {
                // The test has finished.
            }
        }
    }
}
