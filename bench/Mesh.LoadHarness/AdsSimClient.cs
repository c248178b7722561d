using System.Diagnostics;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Service.Discovery.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mesh.Xds;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.LoadHarness;

/// <summary>
/// One simulated proxyless client on a raw ADS stream, state-of-the-world or (with <c>delta: true</c>) incremental: it
/// subscribes to its listeners, then to the route configurations they name, the clusters those name and the endpoints of
/// those clusters, ACKing every response as a real client does. It records, per type, when it last ACKed and which
/// version (<c>version_info</c>, or a delta response's <c>system_version_info</c>: both are the control plane's snapshot
/// version), and counts the responses it got. Names are derived once, at subscription; later responses are ACKed with
/// the same names (the harness's changes keep every name).
/// </summary>
internal sealed class AdsSimClient
{
    public const int Lds = 0;
    public const int Rds = 1;
    public const int Cds = 2;
    public const int Eds = 3;

    private static readonly string[] TypeUrls = [XdsTypeUrls.Listener, XdsTypeUrls.RouteConfiguration, XdsTypeUrls.Cluster, XdsTypeUrls.ClusterLoadAssignment];

    private readonly string[]?[] _names = new string[]?[4];
    private readonly Envoy.Config.Core.V3.Node _node;

    public AdsSimClient(int id, IReadOnlyList<string> listeners, bool delta = false)
    {
        Id = id;
        Delta = delta;
        Listeners = listeners;
        _names[Lds] = [.. listeners];
        _node = new Envoy.Config.Core.V3.Node
        {
            Id = $"sim-{id}",
            Cluster = "sim",
            Metadata = new Struct
            {
                Fields =
                {
                    ["NAMESPACE"] = Value.ForString("default"),
                    ["WORKLOAD_NAME"] = Value.ForString($"sim-workload-{id % 20}"), // 20 workloads of 50 replicas at 1,000
                },
            },
            UserAgentName = "mesh-load-harness",
        };
    }

    /// <summary>The client's number.</summary>
    public int Id { get; }

    /// <summary>Whether the client speaks delta (incremental) ADS.</summary>
    public bool Delta { get; }

    /// <summary>The listeners it subscribes to.</summary>
    public IReadOnlyList<string> Listeners { get; }

    /// <summary>Called on the stream's loop after each EDS response was ACKed, with the ACK's Stopwatch timestamp.</summary>
    public Action<AdsSimClient, DiscoveryResponse, long>? EndpointsAcked { get; init; }

    /// <summary>The node the client sends.</summary>
    public Envoy.Config.Core.V3.Node Node => _node;

    /// <summary>The clusters the client subscribed to (after it synced), as its load reports name them.</summary>
    public IReadOnlyList<string> Clusters => _names[Cds] ?? [];

    /// <summary>Stopwatch timestamp of the last ACK per type.</summary>
    public long[] AckedAt { get; } = new long[4];

    /// <summary>Version of the last ACKed response per type.</summary>
    public string?[] AckedVersion { get; } = new string?[4];

    /// <summary>Responses received per type.</summary>
    public int[] Received { get; } = new int[4];

    /// <summary>Why the stream ended, if it did other than by the harness cancelling it.</summary>
    public string? Ended { get; private set; }

    /// <summary>Completes when every type has been ACKed once.</summary>
    public TaskCompletionSource Synced { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static int TypeIndex(string typeUrl) => Array.IndexOf(TypeUrls, typeUrl);

    public Task RunAsync(AggregatedDiscoveryService.AggregatedDiscoveryServiceClient client, CancellationToken cancellationToken) =>
        Delta ? RunDeltaAsync(client, cancellationToken) : RunSotwAsync(client, cancellationToken);

    private async Task RunSotwAsync(AggregatedDiscoveryService.AggregatedDiscoveryServiceClient client, CancellationToken cancellationToken)
    {
        using var call = client.StreamAggregatedResources(cancellationToken: cancellationToken);
        try
        {
            await SendAsync(call, Lds, version: "", nonce: "").ConfigureAwait(false);
            while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                var response = call.ResponseStream.Current;
                var type = TypeIndex(response.TypeUrl);
                Interlocked.Increment(ref Received[type]);
                var next = type < Eds && _names[type + 1] is null ? Derive(type, response.Resources) : null;
                await SendAsync(call, type, response.VersionInfo, response.Nonce).ConfigureAwait(false);
                AckedVersion[type] = response.VersionInfo;
                var acked = Stopwatch.GetTimestamp();
                Volatile.Write(ref AckedAt[type], acked);
                if (type == Eds)
                {
                    EndpointsAcked?.Invoke(this, response, acked);
                }

                if (next is not null)
                {
                    _names[type + 1] = next;
                    await SendAsync(call, type + 1, version: "", nonce: "").ConfigureAwait(false);
                }

                if (type == Eds)
                {
                    Synced.TrySetResult();
                }
            }
        }
        catch (RpcException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Ended = ex.GetType().Name + ": " + ex.Message;
            Synced.TrySetException(ex);
            throw;
        }
    }

    private async Task RunDeltaAsync(AggregatedDiscoveryService.AggregatedDiscoveryServiceClient client, CancellationToken cancellationToken)
    {
        using var call = client.DeltaAggregatedResources(cancellationToken: cancellationToken);
        try
        {
            await SubscribeAsync(call, Lds).ConfigureAwait(false);
            while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                var response = call.ResponseStream.Current;
                var type = TypeIndex(response.TypeUrl);
                Interlocked.Increment(ref Received[type]);
                string[]? next = null;
                if (type < Eds && _names[type + 1] is null)
                {
                    var resources = new List<Any>(response.Resources.Count);
                    foreach (var resource in response.Resources)
                    {
                        resources.Add(resource.Resource_);
                    }

                    next = Derive(type, resources);
                }

                await call.RequestStream.WriteAsync(new DeltaDiscoveryRequest { TypeUrl = TypeUrls[type], ResponseNonce = response.Nonce }, cancellationToken).ConfigureAwait(false);
                AckedVersion[type] = response.SystemVersionInfo;
                Volatile.Write(ref AckedAt[type], Stopwatch.GetTimestamp());
                if (next is not null)
                {
                    _names[type + 1] = next;
                    await SubscribeAsync(call, type + 1).ConfigureAwait(false);
                }

                if (type == Eds)
                {
                    Synced.TrySetResult();
                }
            }
        }
        catch (RpcException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Ended = ex.GetType().Name + ": " + ex.Message;
            Synced.TrySetException(ex);
            throw;
        }
    }

    private Task SubscribeAsync(AsyncDuplexStreamingCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse> call, int type)
    {
        var request = new DeltaDiscoveryRequest { Node = type == Lds ? _node : null, TypeUrl = TypeUrls[type] };
        request.ResourceNamesSubscribe.AddRange(_names[type]!);
        return call.RequestStream.WriteAsync(request);
    }

    private Task SendAsync(AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> call, int type, string version, string nonce)
    {
        var request = new DiscoveryRequest { Node = _node, TypeUrl = TypeUrls[type], VersionInfo = version, ResponseNonce = nonce };
        request.ResourceNames.AddRange(_names[type]!);
        return call.RequestStream.WriteAsync(request);
    }

    /// <summary>The names of the next type that <paramref name="response"/> refers to, as a real client follows them.</summary>
    private static string[] Derive(int type, IEnumerable<Any> resources)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var any in resources)
        {
            switch (type)
            {
                case Lds:
                    names.Add(any.Unpack<Listener>().ApiListener.ApiListener_.Unpack<Hcm.HttpConnectionManager>().Rds.RouteConfigName);
                    break;
                case Rds:
                    foreach (var host in any.Unpack<RouteConfiguration>().VirtualHosts)
                    {
                        foreach (var route in host.Routes)
                        {
                            if (route.Route_.WeightedClusters is { } weighted)
                            {
                                foreach (var cluster in weighted.Clusters)
                                {
                                    names.Add(cluster.Name);
                                }
                            }
                            else
                            {
                                names.Add(route.Route_.Cluster);
                            }
                        }
                    }

                    break;
                case Cds:
                    var c = any.Unpack<Cluster>();
                    names.Add(c.EdsClusterConfig?.ServiceName is { Length: > 0 } service ? service : c.Name);
                    break;
            }
        }

        return [.. names];
    }
}
