using System.Collections.Immutable;
using System.Net;
using Mesh.Client.Resources;
using Mesh.Client.Xds;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Routing;

/// <summary>
/// Resolves the names of a LOGICAL_DNS or STRICT_DNS cluster (gRFC A37) into its endpoints: every address of every
/// name, with the name's port, weight and locality. It resolves at once, again every <see cref="RefreshInterval"/>
/// while that works (gRPC's DNS resolver does not re-resolve more often than every 30 s), and after a failure retries
/// with gRPC's connection backoff, keeping the last good endpoints meanwhile. A failure before any success is
/// reported, so calls fail with the reason rather than waiting. Every delay is on the injected clock.
/// </summary>
internal sealed partial class DnsClusterResolver : IDisposable
{
    /// <summary>How often names that resolved are resolved again: 30 s, gRPC's minimum re-resolution interval.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(30);

    private static readonly XdsBackoffPolicy RetryBackoff = new(TimeSpan.FromSeconds(1), 1.6, 0.2, RefreshInterval);

    private readonly EndpointsResource _targets;
    private readonly ResolveHost _resolve;
    private readonly TimeProvider _time;
    private readonly Action<EndpointsResource?, string?> _onResult;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Resolves a host name into its addresses.</summary>
    public delegate Task<IPAddress[]> ResolveHost(string host, CancellationToken cancellationToken);

    /// <summary>The system resolver (<see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/>).</summary>
    public static ResolveHost SystemResolver { get; } = static (host, cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);

    /// <param name="targets">The cluster's names, as its load_assignment lists them.</param>
    /// <param name="resolve">The resolver.</param>
    /// <param name="time">The clock for refreshes and retries.</param>
    /// <param name="onResult">Called with the resolved endpoints, or with null and the reason when nothing resolved yet.</param>
    /// <param name="logger">The logger.</param>
    public DnsClusterResolver(EndpointsResource targets, ResolveHost resolve, TimeProvider time, Action<EndpointsResource?, string?> onResult, ILogger logger)
    {
        _targets = targets;
        _resolve = resolve;
        _time = time;
        _onResult = onResult;
        _logger = logger;
    }

    /// <summary>The names this resolver follows.</summary>
    public EndpointsResource Targets => _targets;

    /// <summary>Starts resolving in the background.</summary>
    public void Start() => _ = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        var backoff = new XdsBackoff(RetryBackoff, Random.Shared.NextDouble);
        var resolvedOnce = false;
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            TimeSpan delay;
            try
            {
                var (endpoints, error) = await ResolveAsync(token).ConfigureAwait(false);
                if (token.IsCancellationRequested)
                {
                    return;
                }

                if (error is null)
                {
                    resolvedOnce = true;
                    backoff.Reset();
                    _onResult(endpoints, null);
                    delay = RefreshInterval;
                }
                else
                {
                    Log.ResolutionFailed(_logger, _targets.Name, error);
                    if (!resolvedOnce)
                    {
                        _onResult(null, error);
                    }

                    delay = backoff.Next();
                }

                await Task.Delay(delay, _time, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Resolves every name once: the endpoints, or the first failure.</summary>
    private async Task<(EndpointsResource? Endpoints, string? Error)> ResolveAsync(CancellationToken cancellationToken)
    {
        var localities = ImmutableArray.CreateBuilder<LocalityResource>(_targets.Localities.Length);
        var seen = new HashSet<(string, int)>();
        foreach (var locality in _targets.Localities)
        {
            var endpoints = ImmutableArray.CreateBuilder<EndpointResource>();
            foreach (var target in locality.Endpoints)
            {
                IPAddress[] addresses;
                try
                {
                    addresses = await _resolve(target.Host, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ArgumentException or IOException)
                {
                    return (null, $"cluster '{_targets.Name}': '{target.Host}' does not resolve: {ex.Message}");
                }

                if (addresses.Length == 0)
                {
                    return (null, $"cluster '{_targets.Name}': '{target.Host}' resolves to no address");
                }

                foreach (var address in addresses)
                {
                    var host = address.IsIPv4MappedToIPv6 ? address.MapToIPv4().ToString() : address.ToString();
                    if (seen.Add((host, target.Port)))
                    {
                        endpoints.Add(new EndpointResource(host, target.Port, target.Weight) { HashKey = target.HashKey });
                    }
                }
            }

            localities.Add(locality with { Endpoints = endpoints.ToImmutable() });
        }

        return (new EndpointsResource(_targets.Name, localities.ToImmutable()), null);
    }

    /// <summary>Stops resolving; no result is reported afterwards.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "DNS resolution failed, retrying (last good endpoints, if any, still serve): {Message} (cluster '{Cluster}').")]
        public static partial void ResolutionFailed(ILogger logger, string cluster, string message);
    }
}
