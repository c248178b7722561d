using System.Text.Json.Nodes;
using Mesh.Cli.Output;

namespace Mesh.Cli.Analyze;

/// <summary>
/// What the analyzers look things up in: the service hosts (ServiceEntry, Kubernetes Service), the subsets each
/// DestinationRule defines, the workloads with their labels, and the gateways.
/// </summary>
internal sealed class MeshIndex
{
    private const string ClusterDomain = "cluster.local";

    private readonly HashSet<string> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _wildcardHosts = [];
    private readonly Dictionary<string, HashSet<string>> _subsets = new(StringComparer.OrdinalIgnoreCase);

    public MeshIndex(IReadOnlyList<AnalyzedResource> resources)
    {
        Resources = resources;
        foreach (var r in resources)
        {
            switch (r.Kind)
            {
                case "ServiceEntry" when r.Group == "networking.istio.io":
                    foreach (var host in Strings(r.Body, "spec", "hosts"))
                    {
                        AddHost(Canonical(host, r.Namespace));
                    }

                    foreach (var endpoint in Json.Items(r.Body, "spec", "endpoints"))
                    {
                        Workloads.Add((r.Namespace, Labels(endpoint, "labels")));
                    }

                    break;
                case "Service" when r.Group.Length == 0:
                    AddHost($"{r.Name}.{r.Namespace}.svc.{ClusterDomain}");
                    break;
                case "WorkloadEntry":
                    Workloads.Add((r.Namespace, Labels(r.Body, "spec", "labels")));
                    break;
                case "Pod" when r.Group.Length == 0:
                    Workloads.Add((r.Namespace, Labels(r.Body, "metadata", "labels")));
                    break;
                case "DestinationRule" when Json.Str(r.Body, "spec", "host") is { } drHost:
                    var key = Canonical(drHost, r.Namespace);
                    if (!_subsets.TryGetValue(key, out var names))
                    {
                        _subsets[key] = names = new HashSet<string>(StringComparer.Ordinal);
                    }

                    foreach (var subset in Json.Items(r.Body, "spec", "subsets"))
                    {
                        if (Json.Str(subset, "name") is { } name)
                        {
                            names.Add(name);
                        }
                    }

                    break;
            }
        }
    }

    /// <summary>Every resource read.</summary>
    public IReadOnlyList<AnalyzedResource> Resources { get; }

    /// <summary>Every workload the configuration describes: its namespace and labels.</summary>
    public List<(string Namespace, IReadOnlyDictionary<string, string> Labels)> Workloads { get; } = [];

    /// <summary>
    /// The fully qualified form of a host as Mesh resolves it in <paramref name="namespace"/>: <c>reviews</c>,
    /// <c>reviews.default</c> and <c>reviews.default.svc</c> all mean <c>reviews.default.svc.cluster.local</c>.
    /// </summary>
    public static string Canonical(string host, string @namespace)
    {
        if (host.Contains('*', StringComparison.Ordinal))
        {
            return host;
        }

        var dots = host.Count(c => c == '.');
        return dots switch
        {
            0 => $"{host}.{@namespace}.svc.{ClusterDomain}",
            1 => $"{host}.svc.{ClusterDomain}",
            _ when host.EndsWith(".svc", StringComparison.OrdinalIgnoreCase) => $"{host}.{ClusterDomain}",
            _ => host,
        };
    }

    /// <summary>Whether a service (or a wildcard ServiceEntry) answers for <paramref name="canonicalHost"/>.</summary>
    public bool HasHost(string canonicalHost)
    {
        if (_hosts.Contains(canonicalHost))
        {
            return true;
        }

        if (canonicalHost.StartsWith("*.", StringComparison.Ordinal))
        {
            var suffix = canonicalHost[1..];
            return _hosts.Any(h => h.EndsWith(suffix, StringComparison.OrdinalIgnoreCase));
        }

        return _wildcardHosts.Any(w => canonicalHost.EndsWith(w[1..], StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Whether some DestinationRule for <paramref name="canonicalHost"/> defines <paramref name="subset"/>.</summary>
    public bool HasSubset(string canonicalHost, string subset) =>
        _subsets.TryGetValue(canonicalHost, out var names) && names.Contains(subset);

    /// <summary>Whether some workload in <paramref name="namespace"/> (any namespace when null) carries every label of <paramref name="selector"/>.</summary>
    public bool AnyWorkloadMatches(string? @namespace, IReadOnlyDictionary<string, string> selector) =>
        Workloads.Any(w => (@namespace is null || w.Namespace == @namespace) && Matches(w.Labels, selector));

    /// <summary>Whether <paramref name="labels"/> carry every label of <paramref name="selector"/>.</summary>
    public static bool Matches(IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> selector) =>
        selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);

    /// <summary>The strings of the array at <paramref name="path"/>.</summary>
    public static IEnumerable<string> Strings(JsonNode? node, params string[] path) =>
        Json.Items(node, path).Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null).OfType<string>();

    /// <summary>The string map at <paramref name="path"/> (labels, matchLabels).</summary>
    public static IReadOnlyDictionary<string, string> Labels(JsonNode? node, params string[] path) =>
        Json.Properties(node, path).Where(p => p.Value is JsonValue).ToDictionary(p => p.Key, p => Json.Str(p.Value) ?? string.Empty, StringComparer.Ordinal);

    private void AddHost(string host)
    {
        if (host.StartsWith("*.", StringComparison.Ordinal))
        {
            _wildcardHosts.Add(host);
        }

        _hosts.Add(host);
    }
}
