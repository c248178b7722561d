using System.Collections.Immutable;
using Envoy.Config.Core.V3;

namespace Mesh.ControlPlane.Translation;

/// <summary>
/// Who an xDS client is, as far as translation cares: its namespace (short names resolve there), its labels
/// (workload selectors of PeerAuthentication and AuthorizationPolicy match them) and its locality (locality load
/// balancing orders endpoints relative to it). The first two come from the node's metadata, <c>NAMESPACE</c> and
/// <c>LABELS</c>, as Istio's agents and Mesh's bootstrap write them; the locality from the node's <c>locality</c>.
/// </summary>
/// <param name="Namespace">The namespace.</param>
/// <param name="Labels">The workload's labels.</param>
public sealed record ClientWorkload(string Namespace, ImmutableSortedDictionary<string, string> Labels)
{
    /// <summary>Where the workload runs (<see cref="Model.Locality.None"/> when its node does not say).</summary>
    public Model.Locality Locality { get; init; } = Model.Locality.None;

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

        var locality = node.Locality is { } l && (l.Region.Length > 0 || l.Zone.Length > 0 || l.SubZone.Length > 0)
            ? new Model.Locality(l.Region, l.Zone, l.SubZone)
            : Model.Locality.None;
        return new ClientWorkload(ns, labels.ToImmutable()) { Locality = locality };
    }

    /// <summary>A stable key for caching per-workload resources.</summary>
    public string Key => Namespace + "|" + string.Join(',', Labels.Select(static l => l.Key + "=" + l.Value))
        + (Locality == Model.Locality.None ? string.Empty : "|" + Locality);
}
