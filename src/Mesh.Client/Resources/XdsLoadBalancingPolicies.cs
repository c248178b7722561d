using Envoy.Config.Cluster.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Mesh.Client.Resources;

/// <summary>
/// A cluster's <c>load_balancing_policy</c> (gRFC A52): the policies are tried in order, the first one this client
/// supports is used, unknown ones are skipped; a supported one with a bad config, or a list with none supported, is
/// rejected. Supported: round_robin, least_request (A48), ring_hash (A42), pick_first (A62) and wrr_locality
/// wrapping any of them.
/// </summary>
internal static class XdsLoadBalancingPolicies
{
    private const string Prefix = "type.googleapis.com/envoy.extensions.load_balancing_policies.";

    /// <summary>round_robin.</summary>
    public const string RoundRobinType = Prefix + "round_robin.v3.RoundRobin";

    /// <summary>least_request.</summary>
    public const string LeastRequestType = Prefix + "least_request.v3.LeastRequest";

    /// <summary>ring_hash.</summary>
    public const string RingHashType = Prefix + "ring_hash.v3.RingHash";

    /// <summary>pick_first.</summary>
    public const string PickFirstType = Prefix + "pick_first.v3.PickFirst";

    /// <summary>wrr_locality (locality weights over a child policy; Mesh always weights localities).</summary>
    public const string WrrLocalityType = Prefix + "wrr_locality.v3.WrrLocality";

    /// <summary>How deep wrr_locality may nest policies (as gRPC: 16).</summary>
    public const int MaxDepth = 16;

    /// <summary>Decodes the policy list; null with the field and error when it is rejected.</summary>
    public static Choice? Decode(LoadBalancingPolicy policies, out string? field, out string? error) =>
        Decode(policies, "load_balancing_policy", 0, out field, out error);

    private static Choice? Decode(LoadBalancingPolicy policies, string path, int depth, out string? field, out string? error)
    {
        field = path;
        error = null;
        if (depth >= MaxDepth)
        {
            error = $"policies nest deeper than {MaxDepth}";
            return null;
        }

        var skipped = new List<string>();
        for (var i = 0; i < policies.Policies.Count; i++)
        {
            var at = $"{path}.policies[{i}].typed_extension_config";
            var typed = policies.Policies[i].TypedExtensionConfig?.TypedConfig;
            if (typed is null)
            {
                field = at;
                error = "typed_config is required";
                return null;
            }

            var bytes = typed.Value;
            Choice? choice;
            switch (typed.TypeUrl)
            {
                case RoundRobinType:
                    return Choice.RoundRobin(RoundRobinType);
                case LeastRequestType:
                    uint choiceCount = 2;
                    uint? countRead = null;
                    if (!XdsResourceTypes.TryReadFields(bytes, (number, wire, input) => number == 1 && ReadUInt32Value(wire, input, out countRead), out error))
                    {
                        field = at;
                        return null;
                    }

                    if (countRead is { } count)
                    {
                        if (count < 2)
                        {
                            field = at + ".choice_count";
                            error = "must be at least 2";
                            return null;
                        }

                        choiceCount = Math.Min(count, XdsResourceTypes.MaxChoiceCount);
                    }

                    return new Choice(LbPolicyKind.LeastRequest, LeastRequestType) { ChoiceCount = choiceCount };
                case RingHashType:
                    ulong hashFunction = 0;
                    ulong? min = null, max = null;
                    var read = XdsResourceTypes.TryReadFields(bytes, (number, wire, input) => number switch
                    {
                        1 => ReadVarint(wire, input, out hashFunction),
                        2 => ReadUInt64Value(wire, input, out min),
                        3 => ReadUInt64Value(wire, input, out max),
                        _ => false,
                    }, out error);
                    if (!read)
                    {
                        field = at;
                        return null;
                    }

                    // DEFAULT_HASH (0) is XX_HASH (1) for this extension; MURMUR_HASH_2 is not supported.
                    if (hashFunction is not (0 or 1))
                    {
                        field = at + ".hash_function";
                        error = "only XX_HASH (or DEFAULT_HASH) is supported";
                        return null;
                    }

                    return RingHash(min, max, at, RingHashType, out field, out error);
                case PickFirstType:
                    ulong shuffle = 0;
                    if (!XdsResourceTypes.TryReadFields(bytes, (number, wire, input) => number == 1 && ReadVarint(wire, input, out shuffle), out error))
                    {
                        field = at;
                        return null;
                    }

                    return new Choice(LbPolicyKind.PickFirst, PickFirstType) { ShuffleAddressList = shuffle != 0 };
                case WrrLocalityType:
                    LoadBalancingPolicy? child = null;
                    if (!XdsResourceTypes.TryReadFields(bytes, (number, wire, input) => number == 1 && ReadMessage(wire, input, LoadBalancingPolicy.Parser, out child), out error))
                    {
                        field = at;
                        return null;
                    }

                    if (child is null)
                    {
                        field = at + ".endpoint_picking_policy";
                        error = "is required";
                        return null;
                    }

                    choice = Decode(child, at + ".endpoint_picking_policy", depth + 1, out field, out error);
                    return choice is null ? null : choice with { TypeUrl = WrrLocalityType + "/" + choice.TypeUrl };
                default:
                    skipped.Add(typed.TypeUrl);
                    continue; // A52: an unknown policy is skipped; the next one may be supported.
            }
        }

        field = path;
        error = skipped.Count == 0
            ? "lists no policy"
            : $"no supported policy among {string.Join(", ", skipped)}";
        return null;
    }

    /// <summary>A ring-hash choice after the A42 bounds: 0 &lt; min &lt;= max &lt;= 8M; min defaults to 1024, max to 8M.</summary>
    internal static Choice? RingHash(ulong? minimum, ulong? maximum, string path, string? typeUrl, out string? field, out string? error)
    {
        field = null;
        error = null;
        var min = minimum ?? XdsResourceTypes.DefaultMinRingSize;
        var max = maximum ?? XdsResourceTypes.RingSizeUpperBound;
        if (min == 0)
        {
            field = path + ".minimum_ring_size";
            error = "must be greater than 0";
            return null;
        }

        if (min > XdsResourceTypes.RingSizeUpperBound)
        {
            field = path + ".minimum_ring_size";
            error = $"{min} is above the upper bound {XdsResourceTypes.RingSizeUpperBound}";
            return null;
        }

        if (max > XdsResourceTypes.RingSizeUpperBound)
        {
            field = path + ".maximum_ring_size";
            error = $"{max} is above the upper bound {XdsResourceTypes.RingSizeUpperBound}";
            return null;
        }

        if (min > max)
        {
            field = path;
            error = $"minimum_ring_size {min} is above maximum_ring_size {max}";
            return null;
        }

        return new Choice(LbPolicyKind.RingHash, typeUrl) { MinRingSize = min, MaxRingSize = max };
    }

    private static bool ReadVarint(WireFormat.WireType wire, CodedInputStream input, out ulong value)
    {
        value = 0;
        if (wire != WireFormat.WireType.Varint)
        {
            return false;
        }

        value = input.ReadUInt64();
        return true;
    }

    private static bool ReadUInt64Value(WireFormat.WireType wire, CodedInputStream input, out ulong? value)
    {
        value = null;
        if (!ReadMessage(wire, input, UInt64Value.Parser, out var wrapper))
        {
            return false;
        }

        value = wrapper!.Value;
        return true;
    }

    private static bool ReadUInt32Value(WireFormat.WireType wire, CodedInputStream input, out uint? value)
    {
        value = null;
        if (!ReadMessage(wire, input, UInt32Value.Parser, out var wrapper))
        {
            return false;
        }

        value = wrapper!.Value;
        return true;
    }

    private static bool ReadMessage<T>(WireFormat.WireType wire, CodedInputStream input, MessageParser<T> parser, out T? message)
        where T : class, IMessage<T>
    {
        message = null;
        if (wire != WireFormat.WireType.LengthDelimited)
        {
            return false;
        }

        message = parser.ParseFrom(input.ReadBytes());
        return true;
    }

    /// <summary>The policy chosen, with its settings.</summary>
    /// <param name="Kind">The policy.</param>
    /// <param name="TypeUrl">The load_balancing_policy entry it came from; null for the lb_policy enum.</param>
    internal sealed record Choice(LbPolicyKind Kind, string? TypeUrl)
    {
        public ulong MinRingSize { get; init; } = XdsResourceTypes.DefaultMinRingSize;

        public ulong MaxRingSize { get; init; } = XdsResourceTypes.RingSizeUpperBound;

        public uint ChoiceCount { get; init; } = 2;

        public bool ShuffleAddressList { get; init; }

        public static Choice RoundRobin(string? typeUrl) => new(LbPolicyKind.RoundRobin, typeUrl);
    }
}
