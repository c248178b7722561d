using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Node = Envoy.Config.Core.V3.Node;

namespace Mesh.Client.Bootstrap;

/// <summary>The bootstrap's <c>node</c>: who this client is, sent to the xDS server on every stream.</summary>
public sealed record XdsNode
{
    /// <summary>The node id; defaults to <c>mesh~&lt;hostname&gt;~&lt;pid&gt;</c> when the bootstrap leaves it empty.</summary>
    public required string Id { get; init; }

    /// <summary>The node's cluster (service) name; may be empty.</summary>
    public string Cluster { get; init; } = string.Empty;

    /// <summary>
    /// Opaque metadata for the control plane, e.g. <c>NAMESPACE</c>. Treat it as read-only: it is shared, and
    /// copied into every node message sent.
    /// </summary>
    public Struct Metadata { get; init; } = new();

    /// <summary>Where this client runs, if known.</summary>
    public XdsLocality? Locality { get; init; }

    /// <summary>The default node id: <c>mesh~&lt;hostname&gt;~&lt;pid&gt;</c>.</summary>
    /// <returns>The id.</returns>
    public static string DefaultId() =>
        string.Create(CultureInfo.InvariantCulture, $"mesh~{Environment.MachineName}~{Environment.ProcessId}");

    /// <summary>The node as the xDS protocol carries it, without the user agent and features the client adds.</summary>
    internal Node ToProto()
    {
        var node = new Node { Id = Id, Cluster = Cluster, Metadata = Metadata.Clone() };
        if (Locality is { } locality)
        {
            node.Locality = new Envoy.Config.Core.V3.Locality
            {
                Region = locality.Region,
                Zone = locality.Zone,
                SubZone = locality.SubZone,
            };
        }

        return node;
    }
}

/// <summary>The bootstrap's <c>node.locality</c>.</summary>
/// <param name="Region">The region, e.g. <c>us-east</c>; may be empty.</param>
/// <param name="Zone">The zone within the region; may be empty.</param>
/// <param name="SubZone">The sub-zone within the zone; may be empty.</param>
public sealed record XdsLocality(string Region, string Zone, string SubZone);

/// <summary>One entry of the bootstrap's <c>certificate_providers</c> map.</summary>
/// <param name="PluginName">The provider plugin, e.g. <c>file_watcher</c>.</param>
/// <param name="Config">The plugin's configuration, kept as JSON for the plugin to read.</param>
public sealed record XdsCertificateProviderConfig(string PluginName, System.Text.Json.JsonElement Config);
