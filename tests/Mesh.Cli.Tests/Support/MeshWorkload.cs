using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Cli.Tests.Support;

/// <summary>
/// A .NET service on the mesh, as a Bookinfo workload is: Mesh.Client with its own node id, channels to the services it
/// calls (which make its xDS client watch their listeners, routes, clusters and endpoints), and CSDS served on a
/// loopback port.
/// </summary>
internal sealed class MeshWorkload : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<GrpcChannel> _channels = [];
    private readonly CancellationTokenSource _stop = new();

    private MeshWorkload(WebApplication app, string nodeId, string csdsAddress)
    {
        _app = app;
        NodeId = nodeId;
        CsdsAddress = csdsAddress;
    }

    public string NodeId { get; }

    /// <summary>The CSDS endpoint, <c>127.0.0.1:PORT</c>.</summary>
    public string CsdsAddress { get; }

    public static Task<MeshWorkload> StartAsync(Uri xds, string nodeId, params string[] targets) =>
        StartWithBootstrapAsync(xds, nodeId, Bootstrap(xds, nodeId), targets);

    private static string Bootstrap(Uri xds, string nodeId) => $$$"""
            {
              "xds_servers": [{"server_uri": "{{{xds.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
              "node": {"id": "{{{nodeId}}}", "cluster": "bookinfo", "metadata": {"NAMESPACE": "default"}}
            }
            """;

    /// <summary>Starts a workload with the given bootstrap JSON.</summary>
    public static async Task<MeshWorkload> StartWithBootstrapAsync(Uri xds, string nodeId, string bootstrap, params string[] targets)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddMesh(o => o.BootstrapJson = bootstrap);
        var app = builder.Build();
        app.MapGrpcService<MeshClientStatusService>();
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var workload = new MeshWorkload(app, nodeId, address.Authority);
        foreach (var target in targets)
        {
            var channel = GrpcChannel.ForAddress("xds:///" + target, new GrpcChannelOptions { ServiceProvider = app.Services, Credentials = ChannelCredentials.Insecure });
            workload._channels.Add(channel);

            // Connecting resolves the target through xDS; the endpoints are not listening, which is fine here.
            _ = channel.ConnectAsync(workload._stop.Token).ContinueWith(t => t.Exception, TaskScheduler.Default);
        }

        return workload;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
        _stop.Dispose();
    }
}
