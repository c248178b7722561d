namespace Mesh.ControlPlane.GatewayApi;

/// <summary>
/// The ReferenceGrants of every namespace: which kinds in which namespaces may refer to which objects of the grant's
/// own namespace. A reference into another namespace is allowed only when a grant there names its source (group,
/// kind, namespace) and its target (group, kind, and the name when the grant gives one).
/// </summary>
internal sealed class ReferenceGrants
{
    private readonly List<(string Namespace, ReferenceGrantSpec Spec)> _grants = [];

    public void Add(string @namespace, ReferenceGrantSpec spec) => _grants.Add((@namespace, spec));

    /// <summary>Whether an object of <paramref name="fromKind"/> in <paramref name="fromNamespace"/> may refer to <paramref name="toName"/> in <paramref name="toNamespace"/>.</summary>
    public bool Allows(string fromGroup, string fromKind, string fromNamespace, string toGroup, string toKind, string toNamespace, string toName)
    {
        if (fromNamespace == toNamespace)
        {
            return true;
        }

        foreach (var (ns, spec) in _grants)
        {
            if (ns != toNamespace)
            {
                continue;
            }

            var fromMatches = false;
            foreach (var from in spec.From ?? [])
            {
                if ((from.Group ?? string.Empty) == fromGroup && from.Kind == fromKind && from.Namespace == fromNamespace)
                {
                    fromMatches = true;
                    break;
                }
            }

            if (!fromMatches)
            {
                continue;
            }

            foreach (var to in spec.To ?? [])
            {
                if ((to.Group ?? string.Empty) == toGroup && to.Kind == toKind && (string.IsNullOrEmpty(to.Name) || to.Name == toName))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
