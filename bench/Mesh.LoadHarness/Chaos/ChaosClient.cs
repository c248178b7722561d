using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Bench;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.LoadHarness.Chaos;

/// <summary>
/// <c>chaos-client --rps N --target xds:///echo:9080</c>: the load. A Mesh.Client process (bootstrap from
/// <c>GRPC_XDS_BOOTSTRAP_CONFIG</c>, cache from <c>MESH_XDS_CACHE_DIR</c>) that calls at once — one call at a time until
/// the first succeeds, so a restarted client that cannot route shows as failed calls — and then at a paced rate, each
/// call with a 5 s deadline. Every 250 ms it prints <c>tick UNIX_MS COMPLETED OK FAILED V1 V2 FIRST_FAIL_MS LAST_FAIL_MS ERROR</c> for the
/// calls that completed in that window (V1/V2: which backend version answered), and once
/// <c>first-ok MS</c>: milliseconds from process start to the first successful call. Stops when standard input closes,
/// after the calls in flight end.
/// </summary>
internal static class ChaosClient
{
    private const int TickMilliseconds = 250;

    public static async Task<int> RunAsync(string[] args)
    {
        var processStart = Process.GetCurrentProcess().StartTime.ToUniversalTime();
        var rps = Program.Option(args, "--rps", 1000);
        var target = args[Array.IndexOf(args, "--target") + 1];
        Console.WriteLine("started");
        var collection = new ServiceCollection();
        collection.AddLogging(l => l.AddSimpleConsole(o => (o.SingleLine, o.TimestampFormat) = (true, "HH:mm:ss.fff ")).AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Information));
        collection.AddMesh();
        await using var provider = collection.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress(target, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var client = new Greeter.GreeterClient(channel.CreateMeshCallInvoker(provider, target));
        var counters = new Window();
        var firstOk = 0;
        var stop = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            while (await Console.In.ReadLineAsync().ConfigureAwait(false) is not null)
            {
            }

            await stop.CancelAsync().ConfigureAwait(false);
        });

        var request = new HelloRequest { Name = "chaos" };
        var inFlight = 0;
        async Task CallAsync()
        {
            Interlocked.Increment(ref inFlight);
            try
            {
                var reply = await client.SayHelloAsync(request, deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync.ConfigureAwait(false);
                counters.Ok(reply.Message);
                if (Interlocked.Exchange(ref firstOk, 1) == 0)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first-ok {(DateTime.UtcNow - processStart).TotalMilliseconds:F0}"));
                }
            }
            catch (RpcException ex)
            {
                counters.Failed(ex.Status.StatusCode + ": " + ex.Status.Detail);
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
            }
        }

        var reporter = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(TickMilliseconds));
            while (await timer.WaitForNextTickAsync().ConfigureAwait(false))
            {
                Console.WriteLine(counters.Drain());
                if (stop.IsCancellationRequested && Volatile.Read(ref inFlight) == 0)
                {
                    return;
                }
            }
        });

        // Until the first call succeeds, one call at a time (every failure counts): a process that cannot route shows as
        // failed calls, and a backlog of thousands of queued calls does not bury the first success.
        while (!stop.IsCancellationRequested && Volatile.Read(ref firstOk) == 0)
        {
            await CallAsync().ConfigureAwait(false);
            if (Volatile.Read(ref firstOk) == 0)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
        }

        // Then the paced load. After a stall (GC, a starved CPU) at most 100 ms of calls are caught up, not a burst.
        var start = Stopwatch.GetTimestamp();
        long issued = 0;
        var catchUp = Math.Max(1, rps / 10);
        using (var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(10)))
        {
            while (!stop.IsCancellationRequested && await pace.WaitForNextTickAsync().ConfigureAwait(false))
            {
                var due = (long)(Stopwatch.GetElapsedTime(start).TotalSeconds * rps);
                issued = Math.Max(issued, due - catchUp);
                for (; issued < due; issued++)
                {
                    _ = CallAsync();
                }
            }
        }

        var drainUntil = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref inFlight) > 0 && DateTime.UtcNow < drainUntil)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        await reporter.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        Console.WriteLine(counters.Drain());
        return 0;
    }

    /// <summary>The outcomes of one reporting window.</summary>
    private sealed class Window
    {
        private readonly Lock _lock = new();
        private long _ok;
        private long _failed;
        private long _v1;
        private long _v2;
        private long _firstFail;
        private long _lastFail;
        private string _error = "-";

        public void Ok(string version)
        {
            lock (_lock)
            {
                _ok++;
                if (version == "v1")
                {
                    _v1++;
                }
                else if (version == "v2")
                {
                    _v2++;
                }
            }
        }

        public void Failed(string error)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            lock (_lock)
            {
                _failed++;
                if (_firstFail == 0)
                {
                    _firstFail = now;
                    _error = (error.Length > 200 ? error[..200] : error).Replace(' ', '_').Replace('\n', '_');
                }

                _lastFail = now;
            }
        }

        public string Drain()
        {
            lock (_lock)
            {
                var line = string.Create(CultureInfo.InvariantCulture,
                    $"tick {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()} {_ok + _failed} {_ok} {_failed} {_v1} {_v2} {_firstFail} {_lastFail} {_error}");
                (_ok, _failed, _v1, _v2, _firstFail, _lastFail, _error) = (0, 0, 0, 0, 0, 0, "-");
                return line;
            }
        }
    }
}
