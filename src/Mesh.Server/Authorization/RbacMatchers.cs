using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Mesh.Client.Routing;

namespace Mesh.Server.Authorization;

/// <summary>
/// One compiled node of an RBAC permission or principal tree. Matching reads only immutable fields and allocates
/// nothing (beyond what a header lookup of a multi-valued header needs).
/// </summary>
internal abstract class RbacMatcher
{
    public abstract bool Matches(in RbacRequest request);
}

internal sealed class AnyMatcher : RbacMatcher
{
    public static AnyMatcher Instance { get; } = new();

    public override bool Matches(in RbacRequest request) => true;
}

internal sealed class AndMatcher(RbacMatcher[] matchers) : RbacMatcher
{
    public override bool Matches(in RbacRequest request)
    {
        foreach (var matcher in matchers)
        {
            if (!matcher.Matches(request))
            {
                return false;
            }
        }

        return true;
    }
}

internal sealed class OrMatcher(RbacMatcher[] matchers) : RbacMatcher
{
    public override bool Matches(in RbacRequest request)
    {
        foreach (var matcher in matchers)
        {
            if (matcher.Matches(request))
            {
                return true;
            }
        }

        return false;
    }
}

internal sealed class NotMatcher(RbacMatcher inner) : RbacMatcher
{
    public override bool Matches(in RbacRequest request) => !inner.Matches(request);
}

/// <summary>A header condition, compiled by the client's matcher code (Envoy/A28 semantics: a missing header never matches, even inverted).</summary>
internal sealed class HeaderRbacMatcher(HeaderCondition condition, bool treatMissingAsEmpty) : RbacMatcher
{
    public override bool Matches(in RbacRequest request)
    {
        var value = request.GetHeader(condition.Name);
        if (value is null && treatMissingAsEmpty)
        {
            value = string.Empty;
        }

        return condition.Matches(value);
    }
}

internal sealed class UrlPathMatcher(HeaderCondition path) : RbacMatcher
{
    public override bool Matches(in RbacRequest request) => path.Matches(request.Path);
}

/// <summary>A41: the server name is hard-coded as empty, so this matches only when the matcher accepts "".</summary>
internal sealed class RequestedServerNameMatcher(HeaderCondition name) : RbacMatcher
{
    public override bool Matches(in RbacRequest request) => name.Matches(string.Empty);
}

internal sealed class DestinationPortMatcher(int port) : RbacMatcher
{
    public override bool Matches(in RbacRequest request) => request.LocalPort == port;
}

/// <summary>A destination port in [start, end).</summary>
internal sealed class DestinationPortRangeMatcher(int start, int end) : RbacMatcher
{
    public override bool Matches(in RbacRequest request) => request.LocalPort >= start && request.LocalPort < end;
}

internal enum CidrTarget
{
    Destination,
    Remote,
}

/// <summary>An IP prefix compared with the local or the peer address; IPv4-mapped IPv6 addresses compare as IPv4.</summary>
internal sealed class CidrMatcher : RbacMatcher
{
    private readonly CidrTarget _target;
    private readonly AddressFamily _family;
    private readonly UInt128 _network;
    private readonly UInt128 _mask;

    private CidrMatcher(CidrTarget target, AddressFamily family, UInt128 network, UInt128 mask)
    {
        _target = target;
        _family = family;
        _network = network;
        _mask = mask;
    }

    public static CidrMatcher? Compile(CidrTarget target, Envoy.Config.Core.V3.CidrRange? range, out string? error)
    {
        error = null;
        if (range is null || !IPAddress.TryParse(range.AddressPrefix, out var address))
        {
            error = $"address_prefix '{range?.AddressPrefix}' is not an IP address";
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var length = range.PrefixLen ?? 0u;
        if (length > bits)
        {
            error = $"prefix_len {length} is longer than the {bits} bits of '{range.AddressPrefix}'";
            return null;
        }

        var mask = length == 0 ? UInt128.Zero : UInt128.MaxValue << (int)(128 - length);
        var value = ToUInt128(address, out _);
        return new CidrMatcher(target, address.AddressFamily, value & mask, mask);
    }

    public override bool Matches(in RbacRequest request)
    {
        var address = _target == CidrTarget.Destination ? request.LocalAddress : request.RemoteAddress;
        if (address is null)
        {
            return false;
        }

        var value = ToUInt128(address, out var family);
        return family == _family && (value & _mask) == _network;
    }

    /// <summary>The address left-aligned in 128 bits (an IPv4 address fills the top 32).</summary>
    private static UInt128 ToUInt128(IPAddress address, out AddressFamily family)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        if (written == 16 && bytes[..10].IndexOfAnyExcept((byte)0) < 0 && bytes[10] == 0xFF && bytes[11] == 0xFF)
        {
            // IPv4-mapped IPv6 (dual-mode sockets report IPv4 peers this way).
            bytes[12..16].CopyTo(bytes);
            written = 4;
        }

        family = written == 4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        if (written == 4)
        {
            return (UInt128)BinaryPrimitives.ReadUInt32BigEndian(bytes) << 96;
        }

        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{_target} {_family} {_network:X}/{_mask:X}");
}

/// <summary>
/// <c>authenticated</c> (A41): without <c>principal_name</c>, any TLS peer; with it, the URI SANs if the certificate
/// has any, else its DNS SANs, else its subject, else (TLS without a client certificate) the empty string.
/// A plaintext peer never matches.
/// </summary>
internal sealed class AuthenticatedMatcher(HeaderCondition? principalName) : RbacMatcher
{
    public override bool Matches(in RbacRequest request)
    {
        var peer = request.Peer;
        if (!peer.IsTls)
        {
            return false;
        }

        if (principalName is null)
        {
            return true;
        }

        if (!peer.HasCertificate)
        {
            return principalName.Matches(string.Empty);
        }

        var uris = peer.UriSans;
        if (uris.Count > 0)
        {
            return AnyMatches(uris);
        }

        var dns = peer.DnsSans;
        if (dns.Count > 0)
        {
            return AnyMatches(dns);
        }

        return principalName.Matches(peer.Subject);
    }

    private bool AnyMatches(IReadOnlyList<string> names)
    {
        for (var i = 0; i < names.Count; i++)
        {
            if (principalName!.Matches(names[i]))
            {
                return true;
            }
        }

        return false;
    }
}
