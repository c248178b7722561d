using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Mesh.Client.Diagnostics;

/// <summary>
/// The ActivitySource and Meter of Mesh.Client, both named after the package. Instrument and tag names are public
/// API: dashboards depend on them.
/// </summary>
internal static class MeshClientDiagnostics
{
    public const string Name = "Mesh.Client";

    public const string TypeTag = "mesh.xds.type";
    public const string ResultTag = "mesh.pick.result";
    public const string ClusterTag = "mesh.cluster";
    public const string StateTag = "mesh.xds.state";

    private static readonly string? Version = typeof(MeshClientDiagnostics).Assembly.GetName().Version?.ToString();

    public static readonly ActivitySource ActivitySource = new(Name, Version);

    public static readonly Meter Meter = new(Name, Version);

    /// <summary>Valid xDS resources accepted, by type.</summary>
    public static readonly Counter<long> ResourceUpdates = Meter.CreateCounter<long>("mesh.client.xds.resource_updates", "{resource}", "xDS resources accepted by the client");

    /// <summary>xDS responses rejected (NACKed), by type.</summary>
    public static readonly Counter<long> Nacks = Meter.CreateCounter<long>("mesh.client.xds.nacks", "{response}", "xDS responses rejected by the client");

    /// <summary>Changes of the ADS stream's connection state.</summary>
    public static readonly Counter<long> ConnectionStateChanges = Meter.CreateCounter<long>("mesh.client.xds.connection_state_changes", "{change}", "ADS stream connection state changes, by new state");

    /// <summary>Picks by outcome: complete, queue, fail.</summary>
    public static readonly Counter<long> Picks = Meter.CreateCounter<long>("mesh.client.picks", "{pick}", "Load-balancing picks, by outcome");

    public static readonly KeyValuePair<string, object?> PickComplete = new(ResultTag, "complete");
    public static readonly KeyValuePair<string, object?> PickQueue = new(ResultTag, "queue");
    public static readonly KeyValuePair<string, object?> PickFail = new(ResultTag, "fail");
}
