using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Mesh.Client.Telemetry;

/// <summary>
/// istio-proxy's HTTP metadata exchange: the caller sends <c>x-envoy-peer-metadata</c> (its node metadata, a protobuf
/// <c>google.protobuf.Struct</c>, base64) and <c>x-envoy-peer-metadata-id</c> (its node id); the server answers with
/// its own on the response. Each side strips the peer's headers before the application sees them.
/// </summary>
internal static class PeerMetadataCodec
{
    public const string MetadataHeader = "x-envoy-peer-metadata";
    public const string IdHeader = "x-envoy-peer-metadata-id";

    /// <summary>The node metadata keys istio-proxy exchanges.</summary>
    public static readonly string[] ExchangedKeys =
    [
        "APP_CONTAINERS", "CLUSTER_ID", "INSTANCE_IPS", "ISTIO_VERSION", "LABELS", "MESH_ID", "NAME", "NAMESPACE",
        "OWNER", "PLATFORM_METADATA", "SERVICE_ACCOUNT", "WORKLOAD_NAME",
    ];

    /// <summary>Encodes metadata as the header carries it (standard base64 of the serialized Struct).</summary>
    public static string Encode(Struct metadata) => Convert.ToBase64String(metadata.ToByteArray());

    /// <summary>
    /// Decodes a header value (padded or unpadded base64, as istio-proxy and gRPC's CSM plugin send it). Returns false
    /// for a value that is not base64 of a Struct: a bad header is ignored (the peer is then unknown), never fatal.
    /// </summary>
    public static bool TryDecode(string? value, out Struct metadata)
    {
        metadata = null!;
        if (string.IsNullOrEmpty(value) || value.Length > 16 * 1024)
        {
            return false;
        }

        var padded = (value.Length % 4) switch
        {
            2 => value + "==",
            3 => value + "=",
            _ => value,
        };
        var bytes = new byte[padded.Length / 4 * 3];
        if (!Convert.TryFromBase64String(padded, bytes, out var written))
        {
            return false;
        }

        try
        {
            metadata = Struct.Parser.ParseFrom(bytes, 0, written);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }
    }

    /// <summary>The peer described by a metadata header pair, or <see cref="WorkloadMetadata.Unknown"/>.</summary>
    /// <remarks>Peers are few and send the same value every time: decoded peers are cached (bounded).</remarks>
    public static WorkloadMetadata ReadPeer(string? metadata, string? id)
    {
        if (string.IsNullOrEmpty(metadata))
        {
            return WorkloadMetadata.Unknown;
        }

        var key = (metadata, id ?? string.Empty);
        if (Peers.TryGetValue(key, out var peer))
        {
            return peer;
        }

        peer = TryDecode(metadata, out var value) ? WorkloadMetadata.FromStruct(value, key.Item2) : WorkloadMetadata.Unknown;
        if (Peers.Count < 1024)
        {
            Peers.TryAdd(key, peer);
        }

        return peer;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string), WorkloadMetadata> Peers = new();
}
