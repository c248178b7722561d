using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>Stops the informers when the host stops (they were started with the snapshot provider).</summary>
internal sealed class KubernetesLifetime(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (services.FindKubernetesSource() is { } source)
        {
            await source.StopAsync().ConfigureAwait(false);
        }
    }
}
