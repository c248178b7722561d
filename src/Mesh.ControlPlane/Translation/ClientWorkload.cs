using System.Collections.Immutable;
using Envoy.Config.Core.V3;

namespace Mesh.ControlPlane.Translation;

/// <summary>
/// Who an xDS client is, as far as translation cares: its namespace (short names resolve there) and its labels
/// (workload selectors of PeerAuthentication and AuthorizationPolicy match them). Both come from the node's
/// metadata, <c>NAMESPACE</c> and <c>LABELS</c>, as Istio's agents and Mesh's bootstrap write them.
/// </summary>
/// <param name="Namespace">The namespace.</param>
/// <param name="Labels">The workload's labels.</param>
public sealed record ClientWorkload(string Namespace, ImmutableSortedDictionary<string, string> Labels)
{
    /// <summary>A workload in <c>default</c> without labels.</summary>
    public static ClientWorkload Default { get; } = new("default", ImmutableSortedDictionary<string, string>.Empty);

    /// <summary>A workload in <paramref name="ns"/> without labels.</summary>
    public static ClientWorkload InNamespace(string ns) => new(ns, ImmutableSortedDictionary<string, string>.Empty);

    /// <summary>The workload a node describes.</summary>
    public static ClientWorkload FromNode(Node node, string ns)
    {
        var labels = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        if (node.Metadata?.Fields.TryGetValue("LABELS", out var value) == true && value.StructValue is { } map)
        {
            foreach (var (key, label) in map.Fields)
            {
                if (label.KindCase == Google.Protobuf.WellKnownTypes.Value.KindOneofCase.StringValue)
                {
                    labels[key] = label.StringValue;
                }
            }
        }

        return new ClientWorkload(ns, labels.ToImmutable());
    }

    /// <summary>A stable key for caching per-workload resources.</summary>
    public string Key { get; } = Namespace + "|" + string.Join(',', Labels.Select(static l => l.Key + "=" + l.Value));
}
