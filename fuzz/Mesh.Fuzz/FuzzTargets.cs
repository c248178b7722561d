using System.Collections.Immutable;
using System.Net;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mesh.Client.Bootstrap;
using Mesh.Client.Resources;
using Mesh.Client.Xds;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Security;
using Mesh.ControlPlane.Translation;
using Mesh.Server.Authorization;
using Mesh.Xds;
using Microsoft.AspNetCore.Http;
using FilterRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;

namespace Mesh.Fuzz;

/// <summary>
/// The fuzz targets: each takes arbitrary bytes and runs one parser or validator that reads untrusted input. A target
/// catches only the exception its code documents for bad input (e.g. <see cref="XdsBootstrapException"/>); anything
/// else escapes and is a crash — for AFL++ through SharpFuzz, and for the mutation loop, which reports it.
/// </summary>
internal static class FuzzTargets
{
    private static readonly RbacRequest[] RbacRequests =
    [
        new() { Method = "POST", Path = "/echo.Echo/Say", Authority = "echo:9080", Peer = RbacPeer.Plaintext, RemoteAddress = IPAddress.Loopback, LocalAddress = IPAddress.Loopback, LocalPort = 9080 },
        new()
        {
            Method = "GET",
            Path = "/reviews/0?x=1",
            Authority = "reviews",
            Peer = RbacPeer.Create(["spiffe://cluster.local/ns/default/sa/productpage"], ["productpage.default.svc"], "CN=productpage"),
            Headers = new HeaderDictionary { ["end-user"] = "jason", ["x-token"] = "abc" },
            RemoteAddress = IPAddress.Parse("10.0.0.7"),
            LocalAddress = IPAddress.IPv6Loopback,
            LocalPort = 15012,
        },
    ];

    /// <summary>The fuzz run's CA (the csr and token targets, and the token seeds).</summary>
    internal static readonly Lazy<CertificateAuthority> Authority = new(CreateAuthority);

    /// <summary>Every target by name: what it feeds and the function.</summary>
    public static ImmutableSortedDictionary<string, (string Description, Action<byte[]> Run)> All { get; } =
        ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new KeyValuePair<string, (string, Action<byte[]>)>[]
        {
            new("listener", ("Listener bytes → Mesh.Client decode + validation (API and server listeners)", data => Decode(XdsResourceTypes.ListenerType, XdsTypeUrls.Listener, data))),
            new("route", ("RouteConfiguration bytes → Mesh.Client decode + validation", data => Decode(XdsResourceTypes.RouteConfigurationType, XdsTypeUrls.RouteConfiguration, data))),
            new("cluster", ("Cluster bytes → Mesh.Client decode + validation", data => Decode(XdsResourceTypes.ClusterType, XdsTypeUrls.Cluster, data))),
            new("endpoints", ("ClusterLoadAssignment bytes → Mesh.Client decode + validation", data => Decode(XdsResourceTypes.EndpointsType, XdsTypeUrls.ClusterLoadAssignment, data))),
            new("bootstrap", ("bootstrap JSON → XdsBootstrapParser (certificate providers included)", Bootstrap)),
            new("yaml", ("YAML → YamlResourceReader → MeshModelBuilder → ProxylessTranslator", Yaml)),
            new("rbac", ("RBAC filter config bytes → RbacEngine.TryCompile → Evaluate", Rbac)),
            new("csr", ("PEM text → CertificateAuthority.Sign (CSR parsing, algorithm and SAN checks)", Csr)),
            new("token", ("text → join-token validation (CertificateAuthority.ValidateJoinToken)", Token)),
        });

    private static void Decode(XdsResourceType type, string typeUrl, byte[] data)
    {
        var result = type.Decode(new Any { TypeUrl = typeUrl, Value = ByteString.CopyFrom(data) });
        GC.KeepAlive(result);
    }

    private static void Bootstrap(byte[] data)
    {
        try
        {
            GC.KeepAlive(XdsBootstrapParser.Parse(Encoding.UTF8.GetString(data), "fuzz-bootstrap.json"));
        }
        catch (XdsBootstrapException)
        {
            // bad input, reported with the field: expected
        }
    }

    private static void Yaml(byte[] data)
    {
        var set = YamlResourceReader.Read(Encoding.UTF8.GetString(data), "fuzz.yaml", "default");
        var built = MeshModelBuilder.Build(set.Resources, 1);
        if (built.Snapshot is { } snapshot)
        {
            GC.KeepAlive(ProxylessTranslator.Translate(snapshot));
        }
    }

    private static void Rbac(byte[] data)
    {
        FilterRbac config;
        try
        {
            config = FilterRbac.Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException)
        {
            return;
        }
        catch (InvalidOperationException ex) when (ex.Source == typeof(Google.Protobuf.IMessage).Assembly.GetName().Name)
        {
            // Google.Protobuf's own parse failure for some malformed wrapper fields; the product's decoders treat it as a
            // parse error (XdsResourceTypes.Decorate), so the target does too: only what comes after parsing is under test.
            return;
        }

        if (RbacEngine.TryCompile(config, out var engine, out _))
        {
            foreach (var request in RbacRequests)
            {
                GC.KeepAlive(engine.Evaluate(request));
            }
        }
    }

    private static void Csr(byte[] data)
    {
        try
        {
            GC.KeepAlive(Authority.Value.Sign(Encoding.UTF8.GetString(data), new SpiffeId("cluster.local", "default", "fuzz"), TimeSpan.FromHours(1)));
        }
        catch (CertificateSigningException)
        {
            // refused with INVALID_ARGUMENT or PERMISSION_DENIED: expected
        }
    }

    private static void Token(byte[] data) =>
        GC.KeepAlive(Authority.Value.ValidateJoinToken(Encoding.UTF8.GetString(data), out _));

    /// <summary>A CA in a directory of its own (deleted at exit): the fuzz run's, so seeds made with it validate.</summary>
    internal static CertificateAuthority CreateAuthority()
    {
        var directory = Environment.GetEnvironmentVariable("MESH_FUZZ_CA_DIR")
            ?? Path.Combine(Path.GetTempPath(), "mesh-fuzz-ca-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Environment.GetEnvironmentVariable("MESH_FUZZ_CA_DIR") is null)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (IOException)
                {
                }
            };
        }

        return CertificateAuthority.LoadOrCreate(directory, "cluster.local");
    }
}
