using Envoy.Admin.V3;
using Envoy.Service.Discovery.V3;
using Envoy.Service.Status.V3;

namespace Mesh.Xds.Tests.Wire;

public class DiscoveryWireTests
{
    [Fact]
    public void ParseFrom_NackingDiscoveryRequest_ReadsEveryField()
    {
        // envoy.service.discovery.v3.DiscoveryRequest
        var bytes = WireWriter.Build(w => w
            .String(1, "41")                                         // version_info
            .Message(2, node => node                                 // node
                .String(1, "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local") // id
                .String(2, "reviews")                                //   cluster
                .Message(3, md => md                                 //   metadata (Struct)
                    .MapEntry(1, "NAMESPACE", v => v.String(3, "default")))
                .Message(4, loc => loc.String(1, "europe-west1").String(2, "europe-west1-b")) // locality
                .String(6, "mesh-dotnet")                            //   user_agent_name
                .String(7, "0.1.0")                                  //   user_agent_version
                .String(10, "envoy.lb.does_not_support_overprovisioning")) // client_features[0]
            .String(3, "outbound|9080|v1|reviews.default.svc.cluster.local") // resource_names[0]
            .String(4, "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment") // type_url
            .String(5, "nonce-7")                                    // response_nonce
            .Message(6, st => st                                     // error_detail (google.rpc.Status)
                .Varint(1, 3)                                        //   code = INVALID_ARGUMENT
                .String(2, "weights must be positive")));            //   message

        var request = WireAssert.ParseKnown(DiscoveryRequest.Parser, bytes);

        Assert.Equal("41", request.VersionInfo);
        Assert.Equal("sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local", request.Node.Id);
        Assert.Equal("reviews", request.Node.Cluster);
        Assert.Equal("default", request.Node.Metadata.Fields["NAMESPACE"].StringValue);
        Assert.Equal("europe-west1-b", request.Node.Locality.Zone);
        Assert.Equal("mesh-dotnet", request.Node.UserAgentName);
        Assert.Equal("0.1.0", request.Node.UserAgentVersion);
        Assert.Equal("envoy.lb.does_not_support_overprovisioning", Assert.Single(request.Node.ClientFeatures));
        Assert.Equal("outbound|9080|v1|reviews.default.svc.cluster.local", Assert.Single(request.ResourceNames));
        Assert.Equal(XdsTypeUrls.ClusterLoadAssignment, request.TypeUrl);
        Assert.Equal("nonce-7", request.ResponseNonce);
        Assert.Equal(3, request.ErrorDetail.Code);
        Assert.Equal("weights must be positive", request.ErrorDetail.Message);
    }

    [Fact]
    public void ParseFrom_DiscoveryResponse_ReadsEveryField()
    {
        // envoy.service.discovery.v3.DiscoveryResponse
        var bytes = WireWriter.Build(w => w
            .String(1, "42")                                         // version_info
            .Any(2, "type.googleapis.com/envoy.config.cluster.v3.Cluster", [0x0A, 0x01, (byte)'a']) // resources[0]: Cluster{name="a"}
            .Bool(3, true)                                           // canary
            .String(4, "type.googleapis.com/envoy.config.cluster.v3.Cluster") // type_url
            .String(5, "nonce-8")                                    // nonce
            .Message(6, cp => cp.String(1, "mesh-control-plane-0"))); // control_plane.identifier

        var response = WireAssert.ParseKnown(DiscoveryResponse.Parser, bytes);

        Assert.Equal("42", response.VersionInfo);
        Assert.Equal("a", Assert.Single(response.Resources).Unpack<Envoy.Config.Cluster.V3.Cluster>().Name);
        Assert.True(response.Canary);
        Assert.Equal(XdsTypeUrls.Cluster, response.TypeUrl);
        Assert.Equal("nonce-8", response.Nonce);
        Assert.Equal("mesh-control-plane-0", response.ControlPlane.Identifier);
    }

    [Fact]
    public void ParseFrom_DeltaRequestAndResponse_ReadsEveryField()
    {
        // envoy.service.discovery.v3.DeltaDiscoveryRequest
        var requestBytes = WireWriter.Build(w => w
            .Message(1, node => node.String(1, "client-1"))          // node.id
            .String(2, "type.googleapis.com/envoy.config.listener.v3.Listener") // type_url
            .String(3, "a.default:80")                               // resource_names_subscribe[0]
            .String(4, "b.default:80")                               // resource_names_unsubscribe[0]
            .MapEntry(5, "c.default:80", "v7")                       // initial_resource_versions["c.default:80"] = "v7"
            .String(6, "nonce-9")                                    // response_nonce
            .Message(7, st => st.Varint(1, 13).String(2, "boom")));  // error_detail

        // envoy.service.discovery.v3.DeltaDiscoveryResponse
        var responseBytes = WireWriter.Build(w => w
            .String(1, "system-3")                                   // system_version_info
            .Message(2, r => r                                       // resources[0] (Resource)
                .String(1, "v8")                                     //   version
                .Any(2, "type.googleapis.com/envoy.config.listener.v3.Listener", [0x0A, 0x01, (byte)'a']) // resource
                .String(3, "a.default:80")                           //   name
                .String(4, "a")                                      //   aliases[0]
                .Duration(6, 30))                                    //   ttl
            .String(4, "type.googleapis.com/envoy.config.listener.v3.Listener") // type_url
            .String(5, "nonce-10")                                   // nonce
            .String(6, "b.default:80")                               // removed_resources[0]
            .Message(7, cp => cp.String(1, "cp-1")));                // control_plane.identifier

        var request = WireAssert.ParseKnown(DeltaDiscoveryRequest.Parser, requestBytes);
        var response = WireAssert.ParseKnown(DeltaDiscoveryResponse.Parser, responseBytes);

        Assert.Equal("client-1", request.Node.Id);
        Assert.Equal(XdsTypeUrls.Listener, request.TypeUrl);
        Assert.Equal("a.default:80", Assert.Single(request.ResourceNamesSubscribe));
        Assert.Equal("b.default:80", Assert.Single(request.ResourceNamesUnsubscribe));
        Assert.Equal("v7", request.InitialResourceVersions["c.default:80"]);
        Assert.Equal("nonce-9", request.ResponseNonce);
        Assert.Equal(13, request.ErrorDetail.Code);
        Assert.Equal("boom", request.ErrorDetail.Message);

        Assert.Equal("system-3", response.SystemVersionInfo);
        var resource = Assert.Single(response.Resources);
        Assert.Equal("a.default:80", resource.Name);
        Assert.Equal("v8", resource.Version);
        Assert.Equal("a", Assert.Single(resource.Aliases));
        Assert.Equal(TimeSpan.FromSeconds(30), resource.Ttl.ToTimeSpan());
        Assert.Equal("a", resource.Resource_.Unpack<Envoy.Config.Listener.V3.Listener>().Name);
        Assert.Equal(XdsTypeUrls.Listener, response.TypeUrl);
        Assert.Equal("nonce-10", response.Nonce);
        Assert.Equal("b.default:80", Assert.Single(response.RemovedResources));
        Assert.Equal("cp-1", response.ControlPlane.Identifier);
    }

    [Fact]
    public void ParseFrom_ClientStatusResponse_ReadsEveryField()
    {
        // envoy.service.status.v3.ClientStatusResponse
        var bytes = WireWriter.Build(w => w
            .Message(1, cfg => cfg                                   // config[0] (ClientConfig)
                .Message(1, node => node.String(1, "client-1"))      //   node.id
                .Message(3, x => x                                   //   generic_xds_configs[0]
                    .String(1, "type.googleapis.com/envoy.config.route.v3.RouteConfiguration") // type_url
                    .String(2, "reviews:9080")                       //     name
                    .String(3, "v3")                                 //     version_info
                    .Any(4, "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", [0x0A, 0x01, (byte)'r']) // xds_config
                    .Message(5, ts => ts.Varint(1, 1_700_000_000))   //     last_updated (Timestamp.seconds)
                    .Varint(6, 1)                                    //     config_status = SYNCED
                    .Varint(7, 4)                                    //     client_status = NACKED
                    .Message(8, e => e                               //     error_state
                        .Message(2, ts => ts.Varint(1, 1_700_000_100)) // last_update_attempt
                        .String(3, "unknown cluster")                //       details
                        .String(4, "v4"))                            //       version_info
                    .Bool(9, true))                                  //     is_static_resource
                .String(4, "xds:///reviews")));                      //   client_scope

        var response = WireAssert.ParseKnown(ClientStatusResponse.Parser, bytes);

        var config = Assert.Single(response.Config);
        Assert.Equal("client-1", config.Node.Id);
        Assert.Equal("xds:///reviews", config.ClientScope);
        var xds = Assert.Single(config.GenericXdsConfigs);
        Assert.Equal(XdsTypeUrls.RouteConfiguration, xds.TypeUrl);
        Assert.Equal("reviews:9080", xds.Name);
        Assert.Equal("v3", xds.VersionInfo);
        Assert.Equal("r", xds.XdsConfig.Unpack<Envoy.Config.Route.V3.RouteConfiguration>().Name);
        Assert.Equal(1_700_000_000, xds.LastUpdated.Seconds);
        Assert.Equal(ConfigStatus.Synced, xds.ConfigStatus);
        Assert.Equal(ClientResourceStatus.Nacked, xds.ClientStatus);
        Assert.Equal(1_700_000_100, xds.ErrorState.LastUpdateAttempt.Seconds);
        Assert.Equal("unknown cluster", xds.ErrorState.Details);
        Assert.Equal("v4", xds.ErrorState.VersionInfo);
        Assert.True(xds.IsStaticResource);
    }

    [Fact]
    public void Descriptor_DiscoveryServices_MatchEnvoyGrpcMethods()
    {
        var ads = AggregatedDiscoveryService.Descriptor;
        Assert.Equal("envoy.service.discovery.v3.AggregatedDiscoveryService", ads.FullName);
        var sotw = ads.FindMethodByName("StreamAggregatedResources");
        Assert.True(sotw.IsClientStreaming && sotw.IsServerStreaming);
        Assert.Equal(DiscoveryRequest.Descriptor, sotw.InputType);
        Assert.Equal(DiscoveryResponse.Descriptor, sotw.OutputType);
        var delta = ads.FindMethodByName("DeltaAggregatedResources");
        Assert.True(delta.IsClientStreaming && delta.IsServerStreaming);
        Assert.Equal(DeltaDiscoveryRequest.Descriptor, delta.InputType);
        Assert.Equal(DeltaDiscoveryResponse.Descriptor, delta.OutputType);

        var csds = ClientStatusDiscoveryService.Descriptor;
        Assert.Equal("envoy.service.status.v3.ClientStatusDiscoveryService", csds.FullName);
        Assert.True(csds.FindMethodByName("StreamClientStatus").IsServerStreaming);
        var fetch = csds.FindMethodByName("FetchClientStatus");
        Assert.False(fetch.IsClientStreaming || fetch.IsServerStreaming);
    }
}
