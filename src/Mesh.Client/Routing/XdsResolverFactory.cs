using Grpc.Net.Client.Balancer;
using Mesh.Client.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Routing;

/// <summary>Resolves <c>xds:///host:port</c> targets: the path names the xDS listener.</summary>
internal sealed class XdsResolverFactory(XdsClientProvider clients, ILoggerFactory loggers) : ResolverFactory
{
    public override string Name => "xds";

    public override Resolver Create(ResolverOptions options)
    {
        var target = options.Address.AbsolutePath.TrimStart('/');
        if (string.IsNullOrEmpty(target))
        {
            target = options.Address.Authority;
        }

        var canSecure = Transport.MeshConnector.IsInstalled(options.ChannelOptions.HttpHandler);
        return new XdsResolver(clients.Client, Uri.UnescapeDataString(target), canSecure, loggers.CreateLogger<XdsResolver>());
    }
}
