using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Mesh.ControlPlane.Translation;

namespace Mesh.ControlPlane.Xds;

/// <summary>
/// The resources one subscription stands for in one resource set, for one client workload, in the order they are
/// sent, with a fingerprint of their names and versions. Worked out once and shared by every stream with that
/// subscription and workload; a stream keeps the one it last sent, so an unchanged type costs it one comparison.
/// </summary>
internal sealed class XdsResolved
{
    private Dictionary<string, string>? _versions;

    /// <summary>Nothing.</summary>
    public static XdsResolved Empty { get; } = new([]);

    /// <summary>Wraps <paramref name="resources"/> (names distinct).</summary>
    public XdsResolved(XdsResource[] resources)
    {
        Resources = resources;
        Fingerprint = FingerprintOf(resources);
    }

    /// <summary>The resources, in the order they are sent.</summary>
    public XdsResource[] Resources { get; }

    /// <summary>A hash of every (name, version) pair in order: equal fingerprints mean the same content.</summary>
    public UInt128 Fingerprint { get; }

    /// <summary>The version of <paramref name="name"/> here, or null.</summary>
    public string? VersionOf(string name)
    {
        var versions = Volatile.Read(ref _versions);
        if (versions is null)
        {
            versions = new Dictionary<string, string>(Resources.Length, StringComparer.Ordinal);
            foreach (var resource in Resources)
            {
                versions[resource.Name] = resource.Version;
            }

            Volatile.Write(ref _versions, versions); // a race builds it twice, both equal.
        }

        return versions.GetValueOrDefault(name);
    }

    /// <summary>Name → version, for status readers.</summary>
    public Dictionary<string, string> ToDictionary()
    {
        var copy = new Dictionary<string, string>(Resources.Length, StringComparer.Ordinal);
        foreach (var resource in Resources)
        {
            copy[resource.Name] = resource.Version;
        }

        return copy;
    }

    private static UInt128 FingerprintOf(XdsResource[] resources)
    {
        if (resources.Length == 0)
        {
            return UInt128.Zero;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> separator = [0];
        foreach (var resource in resources)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(resource.Name));
            hash.AppendData(separator);
            hash.AppendData(Encoding.UTF8.GetBytes(resource.Version));
            hash.AppendData(separator);
        }

        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        return BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }
}
