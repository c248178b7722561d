using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>
/// An Istio <c>Gateway</c>, validated: the gateway workloads it configures (by label selector) and the servers they
/// run. VirtualServices bind to it by name in their <c>gateways</c> (<see cref="GatewayVirtualService"/>).
/// </summary>
/// <param name="Namespace">The Gateway's namespace.</param>
/// <param name="Name">The Gateway's name.</param>
/// <param name="Selector">The labels a gateway workload must have (every one, with the same value).</param>
/// <param name="Servers">The servers, in the Gateway's order.</param>
/// <param name="DeclaredBy">The resource and origin, for messages.</param>
public sealed record IngressGateway(
    string Namespace,
    string Name,
    ImmutableDictionary<string, string> Selector,
    ImmutableArray<GatewayServer> Servers,
    string DeclaredBy)
{
    /// <summary>The Gateway's <c>namespace/name</c>, as VirtualServices name it.</summary>
    public string Key => $"{Namespace}/{Name}";

    /// <summary>Whether a workload with <paramref name="labels"/> runs this Gateway's servers.</summary>
    public bool Selects(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var (key, value) in Selector)
        {
            if (!labels.TryGetValue(key, out var own) || own != value)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Whether a gateway name written in a VirtualService of <paramref name="fromNamespace"/> (<c>name</c>, or
    /// <c>namespace/name</c>) refers to this Gateway.
    /// </summary>
    public bool IsNamedBy(string written, string fromNamespace)
    {
        var slash = written.IndexOf('/', StringComparison.Ordinal);
        return slash < 0
            ? written == Name && fromNamespace == Namespace
            : written.AsSpan(0, slash).SequenceEqual(Namespace) && written.AsSpan(slash + 1).SequenceEqual(Name);
    }
}
