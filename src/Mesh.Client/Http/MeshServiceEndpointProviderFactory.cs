using System.Diagnostics.CodeAnalysis;
using Mesh.Client.Policies;
using Microsoft.Extensions.ServiceDiscovery;

namespace Mesh.Client.Http;

/// <summary>
/// Resolves service names for Microsoft.Extensions.ServiceDiscovery through xDS: <c>http://reviews</c> gives the
/// endpoints of the target's default route, and the change token fires on every xDS update (so discovery follows
/// pushes at once instead of polling). Per-request routing (header matches, weighted splits) needs
/// <c>AddMeshRouting()</c> on the HttpClient.
/// </summary>
internal sealed class MeshServiceEndpointProviderFactory(MeshTargetRegistry targets) : IServiceEndpointProviderFactory
{
    public bool TryCreateProvider(ServiceEndpointQuery query, [NotNullWhen(true)] out IServiceEndpointProvider? provider)
    {
        var name = query.ServiceName;
        if (Uri.TryCreate(query.ToString(), UriKind.Absolute, out var uri) && !uri.IsDefaultPort && uri.Host == name)
        {
            name = uri.Authority;
        }

        provider = new Provider(targets.Get(name));
        return true;
    }

    private sealed class Provider(MeshTarget target) : IServiceEndpointProvider
    {
        public async ValueTask PopulateAsync(IServiceEndpointBuilder endpoints, CancellationToken cancellationToken)
        {
            var token = target.GetChangeToken();
            if (!target.FirstUpdate.IsCompleted)
            {
                await target.WaitForFirstUpdateAsync(cancellationToken).ConfigureAwait(false);
                token = target.GetChangeToken();
            }

            foreach (var endpoint in target.State?.DefaultEndpoints ?? [])
            {
                endpoints.Endpoints.Add(ServiceEndpoint.Create(endpoint.EndPoint));
            }

            endpoints.AddChangeToken(token);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public override string ToString() => "mesh-xds:" + target.Name;
    }
}
