using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.Xds.Tests.Wire;

public class ListenerWireTests
{
    [Fact]
    public void ParseFrom_ApiListenerWithHcmOverAdsRds_ReadsEveryField()
    {
        // envoy.extensions.filters.http.router.v3.Router
        var router = WireWriter.Build(w => w
            .BoolValue(1, false)   // dynamic_stats
            .Bool(4, true));       // suppress_envoy_headers

        // envoy.extensions.filters.http.fault.v3.HTTPFault
        var fault = WireWriter.Build(w => w
            .Message(2, abort => abort                  // abort (FaultAbort)
                .Varint(2, 503)                         //   http_status
                .Message(3, p => p                      //   percentage (FractionalPercent)
                    .Varint(1, 25)                      //     numerator
                    .Varint(2, 1)))                     //     denominator = TEN_THOUSAND
            .UInt(6, 10));                              // max_active_faults

        // envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        var hcm = WireWriter.Build(w => w
            .Varint(1, 2)                               // codec_type = HTTP2
            .String(2, "outbound_reviews")              // stat_prefix
            .Message(3, rds => rds                      // rds (oneof route_specifier)
                .Message(1, cs => cs                    //   config_source
                    .Message(3, _ => { })               //     ads (AggregatedConfigSource, empty)
                    .Duration(4, 15)                    //     initial_fetch_timeout
                    .Varint(6, 2))                      //     resource_api_version = V3
                .String(2, "reviews.default.svc.cluster.local:9080")) // route_config_name
            .Message(5, f => f                          // http_filters[0]
                .String(1, "envoy.filters.http.fault")  //   name
                .Any(4, "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault", fault) // typed_config
                .Bool(6, true))                         //   is_optional
            .Message(5, f => f                          // http_filters[1]
                .String(1, "envoy.filters.http.router") //   name
                .Any(4, "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router", router)) // typed_config
            .Duration(24, 300)                          // stream_idle_timeout
            .Duration(28, 30));                         // request_timeout

        // envoy.config.listener.v3.Listener
        var bytes = WireWriter.Build(w => w
            .String(1, "reviews.default.svc.cluster.local:9080") // name
            .Varint(16, 2)                                      // traffic_direction = OUTBOUND
            .Message(19, api => api                             // api_listener (ApiListener)
                .Any(1, "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", hcm))); // api_listener

        var listener = Listener.Parser.ParseFrom(bytes);
        WireAssert.ParseKnown(Listener.Parser, bytes);
        WireAssert.ParseKnown(HttpConnectionManager.Parser, hcm);
        WireAssert.ParseKnown(HTTPFault.Parser, fault);

        Assert.Equal("reviews.default.svc.cluster.local:9080", listener.Name);
        Assert.Equal(TrafficDirection.Outbound, listener.TrafficDirection);
        Assert.True(listener.ApiListener.ApiListener_.Is(HttpConnectionManager.Descriptor));

        var manager = listener.ApiListener.ApiListener_.Unpack<HttpConnectionManager>();
        Assert.Equal(HttpConnectionManager.Types.CodecType.Http2, manager.CodecType);
        Assert.Equal("outbound_reviews", manager.StatPrefix);
        Assert.Equal(HttpConnectionManager.RouteSpecifierOneofCase.Rds, manager.RouteSpecifierCase);
        Assert.Equal("reviews.default.svc.cluster.local:9080", manager.Rds.RouteConfigName);
        Assert.Equal(ConfigSource.ConfigSourceSpecifierOneofCase.Ads, manager.Rds.ConfigSource.ConfigSourceSpecifierCase);
        Assert.NotNull(manager.Rds.ConfigSource.Ads);
        Assert.Equal(15, manager.Rds.ConfigSource.InitialFetchTimeout.Seconds);
        Assert.Equal(ApiVersion.V3, manager.Rds.ConfigSource.ResourceApiVersion);
        Assert.Equal(TimeSpan.FromMinutes(5), manager.StreamIdleTimeout.ToTimeSpan());
        Assert.Equal(TimeSpan.FromSeconds(30), manager.RequestTimeout.ToTimeSpan());

        Assert.Equal(2, manager.HttpFilters.Count);
        var faultFilter = manager.HttpFilters[0];
        Assert.Equal("envoy.filters.http.fault", faultFilter.Name);
        Assert.True(faultFilter.IsOptional);
        var httpFault = faultFilter.TypedConfig.Unpack<HTTPFault>();
        Assert.Equal(503u, httpFault.Abort.HttpStatus);
        Assert.Equal(25u, httpFault.Abort.Percentage.Numerator);
        Assert.Equal(Envoy.Type.V3.FractionalPercent.Types.DenominatorType.TenThousand, httpFault.Abort.Percentage.Denominator);
        Assert.Equal(10u, httpFault.MaxActiveFaults);

        var routerFilter = manager.HttpFilters[1];
        Assert.Equal("envoy.filters.http.router", routerFilter.Name);
        Assert.False(routerFilter.IsOptional);
        Assert.Equal(HttpFilter.ConfigTypeOneofCase.TypedConfig, routerFilter.ConfigTypeCase);
        var routerConfig = routerFilter.TypedConfig.Unpack<Router>();
        Assert.False(routerConfig.DynamicStats);
        Assert.True(routerConfig.SuppressEnvoyHeaders);
    }

    [Fact]
    public void ParseFrom_ServerListenerWithFilterChainMatch_ReadsEveryField()
    {
        // envoy.config.listener.v3.Listener
        var bytes = WireWriter.Build(w => w
            .String(1, "inbound|8080")                        // name
            .Message(2, a => a                                // address
                .Message(1, sa => sa                          //   socket_address
                    .String(2, "0.0.0.0")                     //     address
                    .Varint(3, 8080)))                        //     port_value
            .Message(3, fc => fc                              // filter_chains[0]
                .Message(1, m => m                            //   filter_chain_match
                    .UInt(8, 8080)                            //     destination_port
                    .Message(3, c => c.String(1, "10.0.0.0").UInt(2, 8)) // prefix_ranges[0] (address_prefix, prefix_len)
                    .Message(6, c => c.String(1, "10.1.0.0").UInt(2, 16)) // source_prefix_ranges[0]
                    .PackedVarints(7, 1000, 2000)             //     source_ports
                    .String(9, "tls")                         //     transport_protocol
                    .String(10, "h2")                         //     application_protocols[0]
                    .String(11, "*.example.com")              //     server_names[0]
                    .Varint(12, 2)                            //     source_type = EXTERNAL
                    .Message(13, c => c.String(1, "192.168.0.0").UInt(2, 24))) // direct_source_prefix_ranges[0]
                .Message(3, f => f                            //   filters[0]
                    .String(1, "envoy.filters.network.http_connection_manager") // name
                    .Any(4, "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", []))
                .Message(6, ts => ts                          //   transport_socket
                    .String(1, "envoy.transport_sockets.tls") //     name
                    .Any(3, "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", []))
                .String(7, "mtls"))                           //   name
            .Message(25, fc => fc.String(7, "default"))       // default_filter_chain
            .Message(9, lf => lf.String(1, "envoy.filters.listener.tls_inspector")) // listener_filters[0]
            .Varint(16, 1));                                  // traffic_direction = INBOUND

        var listener = WireAssert.ParseKnown(Listener.Parser, bytes);

        Assert.Equal("inbound|8080", listener.Name);
        Assert.Equal("0.0.0.0", listener.Address.SocketAddress.Address);
        Assert.Equal(8080u, listener.Address.SocketAddress.PortValue);
        Assert.Equal(TrafficDirection.Inbound, listener.TrafficDirection);
        Assert.Equal("default", listener.DefaultFilterChain.Name);
        Assert.Equal("envoy.filters.listener.tls_inspector", Assert.Single(listener.ListenerFilters).Name);

        var chain = Assert.Single(listener.FilterChains);
        Assert.Equal("mtls", chain.Name);
        var match = chain.FilterChainMatch;
        Assert.Equal(8080u, match.DestinationPort);
        Assert.Equal("10.0.0.0", Assert.Single(match.PrefixRanges).AddressPrefix);
        Assert.Equal(8u, match.PrefixRanges[0].PrefixLen);
        Assert.Equal("10.1.0.0", Assert.Single(match.SourcePrefixRanges).AddressPrefix);
        Assert.Equal(16u, match.SourcePrefixRanges[0].PrefixLen);
        Assert.Equal("192.168.0.0", Assert.Single(match.DirectSourcePrefixRanges).AddressPrefix);
        Assert.Collection(match.SourcePorts, p => Assert.Equal(1000u, p), p => Assert.Equal(2000u, p));
        Assert.Equal("tls", match.TransportProtocol);
        Assert.Equal("h2", Assert.Single(match.ApplicationProtocols));
        Assert.Equal("*.example.com", Assert.Single(match.ServerNames));
        Assert.Equal(FilterChainMatch.Types.ConnectionSourceType.External, match.SourceType);
        Assert.Equal(XdsTypeUrls.HttpConnectionManager, Assert.Single(chain.Filters).TypedConfig.TypeUrl);
        Assert.Equal("envoy.transport_sockets.tls", chain.TransportSocket.Name);
        Assert.Equal(XdsTypeUrls.DownstreamTlsContext, chain.TransportSocket.TypedConfig.TypeUrl);
    }
}
