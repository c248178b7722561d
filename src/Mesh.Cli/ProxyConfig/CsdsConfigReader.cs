using System.Text.Json.Nodes;
using Envoy.Service.Status.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Xds;

namespace Mesh.Cli.ProxyConfig;

/// <summary>
/// Reads what a running process holds from its client status discovery service (CSDS,
/// <c>envoy.service.status.v3.ClientStatusDiscoveryService</c>), which a Mesh service serves by mapping
/// <c>MeshClientStatusService</c>; grpc-go and grpc-java admin servers speak the same service.
/// </summary>
internal static class CsdsConfigReader
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(XdsTypeRegistry.Default));

    /// <summary>Fetches the client status from <paramref name="address"/> (<c>host:port</c> or a URL, plaintext HTTP/2).</summary>
    public static async Task<ProxyConfigDump> ReadAsync(string address, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var url = address.Contains("://", StringComparison.Ordinal) ? address : "http://" + address;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Port <= 0)
        {
            throw new CliException($"--from-workload: '{address}' is not host:port.", CliException.Usage);
        }

        ClientStatusResponse response;
        try
        {
            using var channel = GrpcChannel.ForAddress(uri);
            var csds = new ClientStatusDiscoveryService.ClientStatusDiscoveryServiceClient(channel);
            response = await csds.FetchClientStatusAsync(new ClientStatusRequest(), deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
        {
            throw new CliException($"{address} does not serve CSDS (envoy.service.status.v3.ClientStatusDiscoveryService); map it in the service with app.MapGrpcService<MeshClientStatusService>().", CliException.Failure, ex);
        }
        catch (RpcException ex)
        {
            throw new CliException($"cannot read the client status from {address}: {ex.StatusCode}: {ex.Status.Detail}", CliException.Failure, ex);
        }

        if (response.Config.Count == 0)
        {
            throw new CliException($"{address} answered CSDS with no xDS client (the process has not started its mesh client yet).");
        }

        var config = response.Config[0];
        var resources = new List<ProxyResource>();
        foreach (var item in config.GenericXdsConfigs)
        {
            resources.Add(new ProxyResource(item.TypeUrl, item.Name, item.VersionInfo, StatusName(item.ClientStatus), Unpack(item.XdsConfig)));
        }

        return new ProxyConfigDump(config.Node?.Id ?? "(unknown node)", address, resources);
    }

    private static string StatusName(Envoy.Admin.V3.ClientResourceStatus status) => status switch
    {
        Envoy.Admin.V3.ClientResourceStatus.Acked => "ACKED",
        Envoy.Admin.V3.ClientResourceStatus.Nacked => "NACKED",
        Envoy.Admin.V3.ClientResourceStatus.Requested => "REQUESTED",
        Envoy.Admin.V3.ClientResourceStatus.DoesNotExist => "DOES_NOT_EXIST",
        _ => status.ToString().ToUpperInvariant(),
    };

    private static JsonNode? Unpack(Any? any)
    {
        if (any is null || string.IsNullOrEmpty(any.TypeUrl))
        {
            return null;
        }

        var descriptor = XdsTypeRegistry.Default.Find(Any.GetTypeName(any.TypeUrl));
        if (descriptor is null)
        {
            return new JsonObject { ["@type"] = any.TypeUrl };
        }

        var message = descriptor.Parser.ParseFrom(any.Value);
        return JsonNode.Parse(Formatter.Format(message));
    }
}
