using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>
/// Starts leader election once the control plane has started (the informers were started with the snapshot provider),
/// and stops both when the host stops.
/// </summary>
internal sealed class KubernetesLifetime(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (services.FindKubernetesSource() is not null)
        {
            services.GetRequiredService<KubernetesLeader>().Start();
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (services.FindKubernetesSource() is { } source)
        {
            await services.GetRequiredService<KubernetesLeader>().StopAsync().ConfigureAwait(false);
            await source.StopAsync().ConfigureAwait(false);
        }
    }
}
