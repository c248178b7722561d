using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;

namespace Mesh.ControlPlane.Security;

/// <summary>
/// Decides whether an xDS client may receive the resources scoped to the workload its node metadata claims (its
/// inbound listeners, with their mTLS mode and RBAC rules). The claim is only a claim: it must match the identity
/// the client proved on the TLS port (its client certificate from the mesh CA, or a join token). The identity
/// <c>spiffe://td/ns/NS/sa/SA</c> matches a workload in namespace NS whose labels are carried by some endpoint in NS
/// that runs as SA; a workload without labels needs only the namespace to match.
/// </summary>
internal static class WorkloadIdentityBinding
{
    /// <summary>Whether <paramref name="identity"/> may act as <paramref name="workload"/>; the reason when not.</summary>
    public static bool Matches(MeshSnapshot snapshot, SpiffeId? identity, ClientWorkload workload, out string reason)
    {
        if (identity is null)
        {
            reason = "the client proved no identity (a mesh client certificate or join token on the TLS port)";
            return false;
        }

        if (identity.TrustDomain != snapshot.TrustDomain)
        {
            reason = $"its identity {identity} is not of trust domain {snapshot.TrustDomain}";
            return false;
        }

        if (identity.Namespace != workload.Namespace)
        {
            reason = $"its identity {identity} is not in namespace {workload.Namespace}";
            return false;
        }

        if (workload.Labels.IsEmpty)
        {
            reason = string.Empty;
            return true;
        }

        foreach (var service in snapshot.Services.Values)
        {
            if (service.Namespace != workload.Namespace)
            {
                continue;
            }

            foreach (var endpoint in service.Endpoints)
            {
                if (endpoint.ServiceAccount == identity.ServiceAccount && HasAll(endpoint, workload))
                {
                    reason = string.Empty;
                    return true;
                }
            }
        }

        reason = $"no endpoint in namespace {workload.Namespace} running as service account {identity.ServiceAccount} has the labels it claims";
        return false;
    }

    private static bool HasAll(ServiceEndpoint endpoint, ClientWorkload workload)
    {
        foreach (var (key, value) in workload.Labels)
        {
            if (!endpoint.Labels.TryGetValue(key, out var own) || own != value)
            {
                return false;
            }
        }

        return true;
    }
}
