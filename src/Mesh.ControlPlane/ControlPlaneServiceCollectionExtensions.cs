using Mesh.ControlPlane;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Kubernetes;
using Mesh.ControlPlane.LoadReporting;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Security;
using Mesh.ControlPlane.Xds;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Mesh control plane in a service collection.</summary>
public static class ControlPlaneServiceCollectionExtensions
{
    private const string GrpcServerCallHandlerCategory = "Grpc.AspNetCore.Server.ServerCallHandler";

    /// <summary>
    /// Adds the control plane: its configuration source (the YAML directory of <see cref="ControlPlaneOptions.ConfigDir"/>,
    /// or the embedded default), the snapshot provider, the xDS resource cache, the ADS service and the certificate
    /// authority (<see cref="CertificateAuthority"/>, opened from <see cref="ControlPlaneOptions.CaDir"/> on first use).
    /// Map the endpoints with <c>MapMeshControlPlane()</c>.
    /// </summary>
    public static IServiceCollection AddMeshControlPlane(this IServiceCollection services, Action<ControlPlaneOptions>? configure = null)
    {
        var options = services.AddOptions<ControlPlaneOptions>().ValidateDataAnnotations().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigSource, DefaultConfigSource>());
        services.TryAddSingleton<MeshSnapshotProvider>();
        services.TryAddSingleton<XdsResourceCache>();
        services.TryAddSingleton<LoadReportStore>();
        services.TryAddSingleton<Mesh.ControlPlane.Dashboard.DashboardHub>();
        services.TryAddSingleton(sp =>
        {
            var value = sp.GetRequiredService<IOptions<ControlPlaneOptions>>().Value;
            return CertificateAuthority.LoadOrCreate(
                value.ResolveCaDir(), value.TrustDomain, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<CertificateAuthority>>());
        });
        services.TryAddSingleton<ServingCertificate>();
        services.AddOptions<Mesh.ControlPlane.Injection.InjectionOptions>();
        services.TryAddSingleton<Mesh.ControlPlane.Injection.InjectionWebhookServer>();
        services.TryAddSingleton(sp => new ServiceAccountTokenValidator(
            sp.GetRequiredService<CertificateAuthority>(),
            sp.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.Kubernetes ? new KubernetesTokenReview(sp.GetRequiredService<KubernetesConfigSource>()) : null,
            sp.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.ServiceAccountTokenAudience,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ServiceAccountTokenValidator>>()));
        services.TryAddSingleton<IssuanceRateLimiter>();
        services.AddHostedService<ControlPlaneStartup>();
        services.AddMeshKubernetesSource();
        services.AddHostedService(sp => sp.GetRequiredService<Mesh.ControlPlane.Injection.InjectionWebhookServer>());
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = 4 * 1024 * 1024; // gRPC's default; an xDS request is far smaller.
            o.MaxSendMessageSize = null;
        });

        // Grpc.AspNetCore logs every client that goes away mid-read at information with the exception ("Error reading
        // message", a stack trace per disconnect: 10,000 of them when a fleet restarts). The ADS stream logs its own end,
        // naming the client, and real failures at warning; Grpc.AspNetCore's errors still show.
        services.Configure<LoggerFilterOptions>(o => o.Rules.Add(new LoggerFilterRule(null, GrpcServerCallHandlerCategory, LogLevel.Warning, null)));
        return services;
    }

    /// <summary>
    /// The configured sources: the YAML directory when one is set, the Kubernetes cluster when <c>--kubernetes</c> is set
    /// (both together when both are), else the embedded default configuration.
    /// </summary>
    private sealed class DefaultConfigSource : IConfigSource, IDisposable
    {
        private readonly IConfigSource _inner;
        private readonly YamlDirectorySource? _owned;

        public DefaultConfigSource(IOptions<ControlPlaneOptions> options, ILoggerFactory loggers, IServiceProvider services)
        {
            var value = options.Value;
            var sources = new List<IConfigSource>();
            if (value.ConfigDir is { Length: > 0 } dir)
            {
                var yaml = new YamlDirectorySource(dir, value.DefaultNamespace, loggers.CreateLogger<YamlDirectorySource>());
                _owned = yaml;
                sources.Add(yaml);
            }

            if (value.Kubernetes)
            {
                sources.Add(services.GetRequiredService<KubernetesConfigSource>());
            }

            _inner = sources.Count switch
            {
                0 => new EmbeddedConfigSource(value.DefaultNamespace),
                1 => sources[0],
                _ => new CompositeConfigSource(sources),
            };
        }

        public string Name => _inner.Name;

        public ConfigSet Current => _inner.Current;

        public Task StartAsync(CancellationToken cancellationToken) => _inner.StartAsync(cancellationToken);

        public Primitives.IChangeToken GetChangeToken() => _inner.GetChangeToken();

        public void Dispose() => _owned?.Dispose();
    }

    /// <summary>Reads the configuration before the server takes traffic; an invalid first configuration stops start-up.</summary>
    private sealed class ControlPlaneStartup(MeshSnapshotProvider provider, XdsResourceCache cache) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            _ = cache; // created now, so it follows every snapshot from the first.
            if (!await provider.StartAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException(
                    "The configuration is invalid:" + Environment.NewLine + string.Join(Environment.NewLine, provider.LastErrors.Select(e => "  " + e)));
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
