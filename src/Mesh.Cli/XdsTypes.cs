using Mesh.Xds;

namespace Mesh.Cli;

/// <summary>The xDS types the tool shows, by their short names (LDS, RDS, CDS, EDS, SDS).</summary>
internal static class XdsTypes
{
    /// <summary>The columns of proxy-status, in istioctl's order.</summary>
    public static readonly string[] StatusColumns = ["CDS", "LDS", "EDS", "RDS", "SDS"];

    /// <summary>LDS, RDS, CDS, EDS, SDS for the core types; the message name for any other.</summary>
    public static string ShortName(string typeUrl) => typeUrl switch
    {
        XdsTypeUrls.Listener => "LDS",
        XdsTypeUrls.RouteConfiguration => "RDS",
        XdsTypeUrls.Cluster => "CDS",
        XdsTypeUrls.ClusterLoadAssignment => "EDS",
        XdsTypeUrls.Secret => "SDS",
        _ => typeUrl[(typeUrl.LastIndexOf('.') + 1)..],
    };

    /// <summary>The type URL for a proxy-config kind (listeners, routes, clusters, endpoints, secrets).</summary>
    public static string ForKind(string kind) => kind switch
    {
        "listeners" => XdsTypeUrls.Listener,
        "routes" => XdsTypeUrls.RouteConfiguration,
        "clusters" => XdsTypeUrls.Cluster,
        "endpoints" => XdsTypeUrls.ClusterLoadAssignment,
        "secrets" => XdsTypeUrls.Secret,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown kind"),
    };
}
