using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Net.Security;
using Mesh.Client.Resources;
using Mesh.Client.Routing;
using Mesh.Client.Security;

namespace Mesh.Client.Transport;

/// <summary>
/// A cluster's upstream TLS with its certificate providers looked up in the bootstrap (gRFC A29): what a
/// connection to one of the cluster's endpoints needs. Built when cluster configuration arrives; a provider the
/// bootstrap does not define makes the cluster fail its calls with <see cref="Error"/> rather than connect in
/// plaintext.
/// </summary>
internal sealed class ClusterTls
{
    private static readonly ConditionalWeakTable<WorkloadCertificate, SslStreamCertificateContext> Contexts = new();

    private ClusterTls(string cluster, UpstreamTlsResource resource, CertificateProvider? identity, CertificateProvider? roots, string? error)
    {
        Cluster = cluster;
        Resource = resource;
        Identity = identity;
        Roots = roots;
        Error = error;
    }

    /// <summary>The cluster.</summary>
    public string Cluster { get; }

    /// <summary>The decoded UpstreamTlsContext.</summary>
    public UpstreamTlsResource Resource { get; }

    /// <summary>The provider of the client's own certificate, or null when the cluster asks for none (TLS without a client certificate).</summary>
    public CertificateProvider? Identity { get; }

    /// <summary>The provider of the roots that server certificates must chain to.</summary>
    public CertificateProvider? Roots { get; }

    /// <summary>Why connections to the cluster cannot be secured as asked, or null.</summary>
    public string? Error { get; }

    /// <summary>The server identities the cluster accepts (any when empty).</summary>
    public ImmutableArray<HeaderCondition> SubjectAltNames => Resource.SubjectAltNames;

    /// <summary>Resolves <paramref name="resource"/>'s certificate providers in <paramref name="store"/>.</summary>
    public static ClusterTls Create(string cluster, UpstreamTlsResource resource, CertificateProviderStore? store)
    {
        CertificateProvider? identity = null;
        if (resource.IdentityProvider.Length > 0)
        {
            identity = store?.Get(resource.IdentityProvider);
            if (identity is null)
            {
                return new ClusterTls(cluster, resource, null, null, MissingProvider(cluster, resource.IdentityProvider));
            }
        }

        var roots = store?.Get(resource.RootProvider);
        if (roots is null)
        {
            return new ClusterTls(cluster, resource, null, null, MissingProvider(cluster, resource.RootProvider));
        }

        return new ClusterTls(cluster, resource, identity, roots, null);
    }

    /// <summary>
    /// The TLS for <paramref name="cluster"/>'s configuration: <paramref name="previous"/> when its resource is the
    /// same, a new one when it changed, null when the cluster is plaintext.
    /// </summary>
    public static ClusterTls? Reuse(ClusterTls? previous, ClusterConfig cluster, CertificateProviderStore? store, bool canSecure = true)
    {
        if (cluster.Cluster?.Tls is not { } resource)
        {
            return null;
        }

        if (!canSecure)
        {
            return previous is { Error: not null } && previous.Resource == resource
                ? previous
                : new ClusterTls(cluster.Name, resource, null, null, $"cluster '{cluster.Name}' needs mTLS, but this channel cannot secure its connections: build it with AddGrpcClient or new GrpcChannelOptions().UseMesh(services)");
        }

        return previous is not null && previous.Resource == resource && previous.Error is null ? previous : Create(cluster.Name, resource, store);
    }

    /// <summary>The TLS context of a certificate, made once per certificate (it holds the intermediates).</summary>
    public static SslStreamCertificateContext ContextOf(WorkloadCertificate certificate) =>
        Contexts.GetValue(certificate, static c => SslStreamCertificateContext.Create(c.Certificate, c.Intermediates, offline: true));

    private static string MissingProvider(string cluster, string instance) =>
        $"cluster '{cluster}' needs mTLS with certificate provider instance '{instance}', which the bootstrap's certificate_providers does not define";
}
