using System.Text.Json;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Mesh.Xds.Tests;

public class XdsTypeRegistryTests
{
    public static TheoryData<string> TypeUrls => new()
    {
        XdsTypeUrls.Listener,
        XdsTypeUrls.RouteConfiguration,
        XdsTypeUrls.Cluster,
        XdsTypeUrls.ClusterLoadAssignment,
        XdsTypeUrls.Secret,
        XdsTypeUrls.HttpConnectionManager,
        XdsTypeUrls.Router,
        XdsTypeUrls.HttpFault,
        XdsTypeUrls.Rbac,
        XdsTypeUrls.RbacPerRoute,
        XdsTypeUrls.UpstreamTlsContext,
        XdsTypeUrls.DownstreamTlsContext,
        "type.googleapis.com/envoy.config.route.v3.FilterConfig",
    };

    [Theory]
    [MemberData(nameof(TypeUrls))]
    public void Default_TypeUrl_FindsDescriptor(string typeUrl)
    {
        var fullName = Any.GetTypeName(typeUrl);

        var descriptor = XdsTypeRegistry.Default.Find(fullName);

        Assert.NotNull(descriptor);
        Assert.Equal(fullName, descriptor.FullName);
    }

    [Fact]
    public void JsonFormatter_ListenerWithNestedAnys_FormatsAndParsesBack()
    {
        var listener = new Listener
        {
            Name = "reviews:9080",
            ApiListener = new ApiListener
            {
                ApiListener_ = Any.Pack(new HttpConnectionManager
                {
                    StatPrefix = "reviews",
                    HttpFilters =
                    {
                        new HttpFilter { Name = "envoy.filters.http.router", TypedConfig = Any.Pack(new Router { SuppressEnvoyHeaders = true }) },
                    },
                }),
            },
        };
        var formatter = new JsonFormatter(JsonFormatter.Settings.Default.WithTypeRegistry(XdsTypeRegistry.Default));
        var parser = new JsonParser(JsonParser.Settings.Default.WithTypeRegistry(XdsTypeRegistry.Default));

        var json = formatter.Format(listener);

        using var document = JsonDocument.Parse(json);
        var manager = document.RootElement.GetProperty("apiListener").GetProperty("apiListener");
        Assert.Equal(XdsTypeUrls.HttpConnectionManager, manager.GetProperty("@type").GetString());
        var router = manager.GetProperty("httpFilters")[0].GetProperty("typedConfig");
        Assert.Equal(XdsTypeUrls.Router, router.GetProperty("@type").GetString());
        Assert.True(router.GetProperty("suppressEnvoyHeaders").GetBoolean());
        Assert.Equal(listener, parser.Parse<Listener>(json));
    }
}
