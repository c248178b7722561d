using System.Text.Json.Nodes;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Security;

namespace Bookinfo.Launcher;

/// <summary>
/// What a Bookinfo service needs to get its workload certificate: the CA's address (the control plane's TLS port), its
/// root certificate (to trust that port) and a join token proving the service account. The launcher runs the control
/// plane, so it asks the CA for the tokens directly; without a launcher, <c>mesh-controlplane token create</c> does.
/// </summary>
internal sealed class WorkloadIdentity(Uri caAddress, string rootFile, CertificateAuthority authority)
{
    /// <summary>The file holding the mesh's root certificate.</summary>
    public string RootFile { get; } = rootFile;

    /// <summary>Writes the root certificate next to the CA and returns the identity source of a running control plane.</summary>
    public static WorkloadIdentity Prepare(WebApplication controlPlane, ControlPlaneOptions options)
    {
        var authority = controlPlane.Services.GetRequiredService<CertificateAuthority>();
        var rootFile = Path.Combine(authority.Directory, "bookinfo-root.pem");
        File.WriteAllText(rootFile, authority.RootCertificatePem);
        return new WorkloadIdentity(ControlPlaneHost.GetTlsAddress(controlPlane), rootFile, authority);
    }

    /// <summary>The bootstrap's <c>certificate_providers</c>: instance <c>default</c>, the <c>mesh_ca</c> plugin.</summary>
    public JsonObject CertificateProviders(string @namespace, string serviceAccount) => new()
    {
        ["default"] = new JsonObject
        {
            ["plugin_name"] = "mesh_ca",
            ["config"] = new JsonObject
            {
                ["server_uri"] = caAddress.GetLeftPart(UriPartial.Authority),
                ["ca_certificate_file"] = RootFile,
                ["token"] = authority.CreateJoinToken(@namespace, serviceAccount),
            },
        },
    };
}
