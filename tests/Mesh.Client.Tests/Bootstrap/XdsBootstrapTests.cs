using System.Text.Json;
using Mesh.Client.Bootstrap;

namespace Mesh.Client.Tests.Bootstrap;

public class XdsBootstrapTests
{
    private const string Minimal = """{"xds_servers":[{"server_uri":"istiod.istio-system:15010","channel_creds":[{"type":"insecure"}]}]}""";

    private const string Full = """
        {
          "xds_servers": [
            {
              "server_uri": "dns:///cp.mesh.local:15012",
              "channel_creds": [{ "type": "google_default" }, { "type": "tls", "config": { "ca": "x" } }, { "type": "insecure" }],
              "server_features": ["xds_v3", "ignore_resource_deletion"]
            },
            { "server_uri": "backup:15010", "channel_creds": [{ "type": "insecure" }] }
          ],
          "node": {
            "id": "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local",
            "cluster": "reviews",
            "metadata": { "NAMESPACE": "default", "LABELS": { "app": "reviews" }, "PORT": 9080, "ENABLED": true, "TAGS": ["a", 1] },
            "locality": { "region": "us-east", "zone": "zone-a", "sub_zone": "rack-1" }
          },
          "certificate_providers": {
            "default": { "plugin_name": "file_watcher", "config": { "certificate_file": "/certs/cert.pem", "private_key_file": "/certs/key.pem", "refresh_interval": "600s" } }
          },
          "server_listener_resource_name_template": "xds.mesh/grpc/lds/inbound/%s",
          "client_default_listener_resource_name_template": "%s",
          "authorities": {}
        }
        """;

    [Fact]
    public void Parse_FullBootstrap_ReadsEveryField()
    {
        var bootstrap = XdsBootstrap.Parse(Full, "test");

        Assert.Equal(2, bootstrap.XdsServers.Count);
        var server = bootstrap.XdsServers[0];
        Assert.Equal("dns:///cp.mesh.local:15012", server.ServerUri);
        Assert.Equal(XdsServerConfig.TlsCredentials, server.ChannelCredentialsType);
        Assert.Equal("x", server.ChannelCredentialsConfig!.Value.GetProperty("ca").GetString());
        Assert.Equal(["xds_v3", "ignore_resource_deletion"], server.ServerFeatures);
        Assert.True(server.IgnoreResourceDeletion);
        Assert.Equal(new Uri("https://cp.mesh.local:15012"), server.GetAddress());
        Assert.Equal(new Uri("http://backup:15010"), bootstrap.XdsServers[1].GetAddress());

        var node = bootstrap.Node;
        Assert.Equal("sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local", node.Id);
        Assert.Equal("reviews", node.Cluster);
        Assert.Equal("default", node.Metadata.Fields["NAMESPACE"].StringValue);
        Assert.Equal("reviews", node.Metadata.Fields["LABELS"].StructValue.Fields["app"].StringValue);
        Assert.Equal(9080, node.Metadata.Fields["PORT"].NumberValue);
        Assert.True(node.Metadata.Fields["ENABLED"].BoolValue);
        Assert.Equal(2, node.Metadata.Fields["TAGS"].ListValue.Values.Count);
        Assert.Equal(new XdsLocality("us-east", "zone-a", "rack-1"), node.Locality);

        var provider = bootstrap.CertificateProviders["default"];
        Assert.Equal("file_watcher", provider.PluginName);
        Assert.Equal("/certs/cert.pem", provider.Config.GetProperty("certificate_file").GetString());
        Assert.Equal("xds.mesh/grpc/lds/inbound/%s", bootstrap.ServerListenerResourceNameTemplate);
        Assert.Equal("%s", bootstrap.ClientDefaultListenerResourceNameTemplate);
        Assert.Equal("test", bootstrap.Origin);
    }

    [Fact]
    public void Parse_MinimalBootstrap_DefaultsNodeIdAndLeavesOptionalFieldsEmpty()
    {
        var bootstrap = XdsBootstrap.Parse(Minimal, "test");

        Assert.Equal($"mesh~{Environment.MachineName}~{Environment.ProcessId}", bootstrap.Node.Id);
        Assert.Equal(string.Empty, bootstrap.Node.Cluster);
        Assert.Empty(bootstrap.Node.Metadata.Fields);
        Assert.Null(bootstrap.Node.Locality);
        Assert.Empty(bootstrap.CertificateProviders);
        Assert.Null(bootstrap.ServerListenerResourceNameTemplate);
        Assert.Null(bootstrap.ClientDefaultListenerResourceNameTemplate);
        Assert.Equal(new Uri("http://istiod.istio-system:15010"), bootstrap.XdsServers[0].GetAddress());
        Assert.False(bootstrap.XdsServers[0].IgnoreResourceDeletion);
    }

    [Fact]
    public void Parse_EmptyNodeId_DefaultsToMeshHostPid()
    {
        var bootstrap = XdsBootstrap.Parse(Minimal.Replace("]}]}", "]}],\"node\":{\"id\":\"\",\"cluster\":\"c\"}}", StringComparison.Ordinal), "test");

        Assert.StartsWith("mesh~", bootstrap.Node.Id, StringComparison.Ordinal);
        Assert.EndsWith($"~{Environment.ProcessId}", bootstrap.Node.Id, StringComparison.Ordinal);
        Assert.Equal("c", bootstrap.Node.Cluster);
    }

    [Theory]
    [InlineData("""{}""", "xds_servers is required")]
    [InlineData("""{"xds_servers":{}}""", "xds_servers must be an array")]
    [InlineData("""{"xds_servers":[]}""", "xds_servers must name at least one server")]
    [InlineData("""{"xds_servers":["x"]}""", "xds_servers[0] must be an object")]
    [InlineData("""{"xds_servers":[{"channel_creds":[{"type":"insecure"}]}]}""", "xds_servers[0].server_uri is required")]
    [InlineData("""{"xds_servers":[{"server_uri":"","channel_creds":[{"type":"insecure"}]}]}""", "xds_servers[0].server_uri is required")]
    [InlineData("""{"xds_servers":[{"server_uri":15010,"channel_creds":[{"type":"insecure"}]}]}""", "xds_servers[0].server_uri must be a string")]
    [InlineData("""{"xds_servers":[{"server_uri":"a b:1","channel_creds":[{"type":"insecure"}]}]}""", "xds_servers[0].server_uri 'a b:1' is not a valid address")]
    [InlineData("""{"xds_servers":[{"server_uri":"cp:15010"}]}""", "xds_servers[0].channel_creds is required")]
    [InlineData("""{"xds_servers":[{"server_uri":"cp:15010","channel_creds":[{"type":"google_default"}]}]}""", "xds_servers[0].channel_creds has no supported type (supported: insecure, tls; got: google_default)")]
    [InlineData("""{"xds_servers":[{"server_uri":"cp:15010","channel_creds":[{"config":{}}]}]}""", "xds_servers[0].channel_creds[0].type is required")]
    [InlineData("""{"xds_servers":[{"server_uri":"cp:15010","channel_creds":[{"type":"insecure"}],"server_features":"x"}]}""", "xds_servers[0].server_features must be an array of strings")]
    [InlineData("""{"xds_servers":[{"server_uri":"cp:15010","channel_creds":[{"type":"insecure"}]}],"node":{"id":7}}""", "node.id must be a string")]
    [InlineData("""{"xds_servers":[{"server_uri":"cp:15010","channel_creds":[{"type":"insecure"}]}],"node":{"metadata":[]}}""", "node.metadata must be an object")]
    [InlineData("""{"xds_servers":[{"server_uri":"cp:15010","channel_creds":[{"type":"insecure"}]}],"node":{"locality":{"zone":1}}}""", "node.locality.zone must be a string")]
    [InlineData("""{"xds_servers":[{"server_uri":"cp:15010","channel_creds":[{"type":"insecure"}]}],"certificate_providers":{"p":{"config":{}}}}""", "certificate_providers.p.plugin_name is required")]
    [InlineData("""{"xds_servers":[{"server_uri":"cp:15010","channel_creds":[{"type":"insecure"}]}],"server_listener_resource_name_template":1}""", "server_listener_resource_name_template must be a string")]
    [InlineData("""[1]""", "the document must be a JSON object")]
    [InlineData("""{"xds_servers": [""", "the document is not valid JSON")]
    public void Parse_InvalidBootstrap_ErrorNamesOriginAndField(string json, string expected)
    {
        var ex = Assert.Throws<XdsBootstrapException>(() => XdsBootstrap.Parse(json, "file '/etc/mesh/bootstrap.json'"));

        Assert.StartsWith("Invalid xDS bootstrap from file '/etc/mesh/bootstrap.json': ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal("file '/etc/mesh/bootstrap.json'", ex.Origin);
        Assert.Contains(ex.Errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsEveryOne()
    {
        const string json = """
            {"xds_servers":[{"channel_creds":[{"type":"google_default"}]},{"server_uri":"ok:1"}],"node":{"cluster":5}}
            """;

        var ex = Assert.Throws<XdsBootstrapException>(() => XdsBootstrap.Parse(json, "test"));

        Assert.Equal(
            [
                "xds_servers[0].server_uri is required",
                "xds_servers[0].channel_creds has no supported type (supported: insecure, tls; got: google_default)",
                "xds_servers[1].channel_creds is required",
                "node.cluster must be a string",
            ],
            ex.Errors);
    }

    [Fact]
    public void Load_OptionsJsonSet_WinsOverBothEnvironmentVariables()
    {
        var env = Env(file: "/nonexistent/bootstrap.json", inline: "not json");

        var bootstrap = XdsBootstrap.Load(Minimal, env, ReadNothing);

        Assert.Equal(XdsBootstrap.OptionsOrigin, bootstrap.Origin);
        Assert.Equal("istiod.istio-system:15010", bootstrap.XdsServers[0].ServerUri);
    }

    [Fact]
    public void Load_NoOptions_ReadsFileNamedByGrpcXdsBootstrapBeforeInlineConfig()
    {
        var path = Path.Combine(Path.GetTempPath(), $"mesh-bootstrap-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, Minimal.Replace("istiod.istio-system", "from-file", StringComparison.Ordinal));
        try
        {
            var bootstrap = XdsBootstrap.Load(null, Env(file: path, inline: Minimal), File.ReadAllText);

            Assert.Equal("from-file:15010", bootstrap.XdsServers[0].ServerUri);
            Assert.Equal($"file '{path}' (GRPC_XDS_BOOTSTRAP)", bootstrap.Origin);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_NoOptionsNoFile_ReadsInlineGrpcXdsBootstrapConfig()
    {
        var bootstrap = XdsBootstrap.Load(null, Env(file: " ", inline: Minimal), ReadNothing);

        Assert.Equal("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap.Origin);
        Assert.Equal("istiod.istio-system:15010", bootstrap.XdsServers[0].ServerUri);
    }

    [Fact]
    public void Load_NothingSet_ThrowsNamingEverySource()
    {
        var ex = Assert.Throws<XdsBootstrapException>(() => XdsBootstrap.Load(null, Env(), ReadNothing));

        Assert.Contains("MeshClientOptions.BootstrapJson", ex.Message, StringComparison.Ordinal);
        Assert.Contains("GRPC_XDS_BOOTSTRAP ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("GRPC_XDS_BOOTSTRAP_CONFIG", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_FileMissing_ErrorNamesPathAndVariable()
    {
        var path = Path.Combine(Path.GetTempPath(), $"mesh-missing-{Guid.NewGuid():N}.json");

        var ex = Assert.Throws<XdsBootstrapException>(() => XdsBootstrap.Load(null, Env(file: path, inline: Minimal), File.ReadAllText));

        Assert.Contains($"file '{path}' (GRPC_XDS_BOOTSTRAP)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be read", ex.Message, StringComparison.Ordinal);
        Assert.IsType<FileNotFoundException>(ex.InnerException);
    }

    [Fact]
    public void Load_InvalidFile_ErrorNamesPathAndField()
    {
        var ex = Assert.Throws<XdsBootstrapException>(() => XdsBootstrap.Load(null, Env(file: "/etc/b.json"), _ => "{}"));

        Assert.Equal("Invalid xDS bootstrap from file '/etc/b.json' (GRPC_XDS_BOOTSTRAP): xds_servers is required", ex.Message);
    }

    [Fact]
    public void Load_InvalidInlineConfig_ErrorNamesVariableAndField()
    {
        var ex = Assert.Throws<XdsBootstrapException>(() =>
            XdsBootstrap.Load(null, Env(inline: """{"xds_servers":[{"server_uri":"cp:1","channel_creds":[]}]}"""), ReadNothing));

        Assert.Equal(
            "Invalid xDS bootstrap from GRPC_XDS_BOOTSTRAP_CONFIG: xds_servers[0].channel_creds has no supported type (supported: insecure, tls; got: none)",
            ex.Message);
    }

    [Fact]
    public void Load_InvalidOptionsJson_ErrorNamesMeshClientOptions()
    {
        var ex = Assert.Throws<XdsBootstrapException>(() => XdsBootstrap.Load("""{"xds_servers":[{"channel_creds":[{"type":"tls"}]}]}""", Env(inline: Minimal), ReadNothing));

        Assert.Equal("Invalid xDS bootstrap from MeshClientOptions.BootstrapJson: xds_servers[0].server_uri is required", ex.Message);
    }

    [Fact]
    public void Record_CertificateProviderConfig_SurvivesTheParsedDocument()
    {
        var bootstrap = XdsBootstrap.Parse(Full, "test");
        GC.Collect();

        Assert.Equal(JsonValueKind.Object, bootstrap.CertificateProviders["default"].Config.ValueKind);
        Assert.Equal("600s", bootstrap.CertificateProviders["default"].Config.GetProperty("refresh_interval").GetString());
    }

    private static Func<string, string?> Env(string? file = null, string? inline = null) => name => name switch
    {
        XdsBootstrap.FileEnvironmentVariable => file,
        XdsBootstrap.ConfigEnvironmentVariable => inline,
        _ => null,
    };

    private static string ReadNothing(string path) => throw new InvalidOperationException($"no file should be read ({path})");
}
