using k8s;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Kubernetes;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Kubernetes source; it is used when <see cref="ControlPlaneOptions.Kubernetes"/> is set.</summary>
public static class KubernetesServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Kubernetes source and its status writer, created only when <see cref="ControlPlaneOptions.Kubernetes"/>
    /// is set. The cluster is the one of <see cref="ControlPlaneOptions.Kubeconfig"/>, or the pod's own (in-cluster
    /// configuration); register a <see cref="KubernetesClientConfiguration"/> to use another.
    /// </summary>
    public static IServiceCollection AddMeshKubernetesSource(this IServiceCollection services)
    {
        services.AddOptions<KubernetesSourceOptions>();
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ControlPlaneOptions>>().Value;
            return options.Kubeconfig is { Length: > 0 } path
                ? KubernetesClientConfiguration.BuildConfigFromConfigFile(path)
                : KubernetesClientConfiguration.InClusterConfig();
        });
        services.TryAddSingleton(sp => new KubernetesConfigSource(
            sp.GetRequiredService<KubernetesClientConfiguration>(),
            sp.GetRequiredService<IOptions<KubernetesSourceOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>()));
        services.TryAddSingleton(sp =>
        {
            var leader = new KubernetesLeader(
                sp.GetRequiredService<KubernetesConfigSource>(),
                sp.GetRequiredService<Mesh.ControlPlane.Model.MeshSnapshotProvider>(),
                sp.GetRequiredService<IOptions<KubernetesSourceOptions>>().Value,
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILoggerFactory>());

            // The injection webhook's singleton work: its caBundle, and the mesh root in every namespace.
            var injection = sp.GetRequiredService<IOptions<Mesh.ControlPlane.Injection.InjectionOptions>>().Value;
            if (sp.GetService<Mesh.ControlPlane.Security.CertificateAuthority>() is not { } authority)
            {
                return leader;
            }

            var source = sp.GetRequiredService<KubernetesConfigSource>();
            var time = sp.GetRequiredService<TimeProvider>();
            var loggers = sp.GetRequiredService<ILoggerFactory>();
            leader.AddWork(new Mesh.ControlPlane.Injection.WebhookCaBundlePatcher(
                source, injection.EffectiveConfigurationName, authority.RootCertificatePem, time, loggers.CreateLogger<Mesh.ControlPlane.Injection.WebhookCaBundlePatcher>()));
            leader.AddWork(new Mesh.ControlPlane.Injection.RootCertificatePublisher(
                source, injection, authority.RootCertificatePem, time, loggers.CreateLogger<Mesh.ControlPlane.Injection.RootCertificatePublisher>()));
            return leader;
        });
        services.AddHostedService<KubernetesLifetime>();
        return services;
    }

    /// <summary>The Kubernetes source when the control plane reads a cluster, else null.</summary>
    internal static KubernetesConfigSource? FindKubernetesSource(this IServiceProvider services) =>
        services.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.Kubernetes ? services.GetRequiredService<KubernetesConfigSource>() : null;
}
