using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.Rbac.V3;
using Envoy.Type.V3;
using RbacPolicy = Envoy.Config.Rbac.V3.RBAC;

namespace Mesh.Xds.Tests.Wire;

public class RouteConfigurationWireTests
{
    [Fact]
    public void ParseFrom_VirtualHostWithWeightedRoute_ReadsEveryField()
    {
        // envoy.config.route.v3.FilterConfig
        var disabledFilter = WireWriter.Build(w => w.Bool(3, true)); // disabled

        // envoy.extensions.filters.http.rbac.v3.RBACPerRoute
        var rbacPerRoute = WireWriter.Build(w => w
            .Message(2, rbac => rbac                                  // rbac (filter RBAC)
                .Message(1, rules => rules                            //   rules (config RBAC)
                    .Varint(1, 1)                                     //     action = DENY
                    .MapEntry(2, "deny-admin", policy => policy       //     policies["deny-admin"]
                        .Message(1, perm => perm                      //       permissions[0]
                            .Message(10, up => up                     //         url_path (PathMatcher)
                                .Message(1, sm => sm.String(2, "/admin")))) // path.prefix
                        .Message(2, principal => principal            //       principals[0]
                            .Message(4, auth => auth                  //         authenticated
                                .Message(2, sm => sm.String(1, "spiffe://cluster.local/ns/default/sa/guest")))))) // principal_name.exact
                .String(6, "mesh_rbac")));                            //   rules_stat_prefix

        // envoy.config.route.v3.RouteConfiguration
        var bytes = WireWriter.Build(w => w
            .String(1, "reviews.default.svc.cluster.local:9080")    // name
            .Message(2, vh => vh                                      // virtual_hosts[0]
                .String(1, "reviews")                                 //   name
                .String(2, "reviews")                                 //   domains[0]
                .String(2, "reviews.default.svc.cluster.local")       //   domains[1]
                .Message(3, route => route                            //   routes[0]
                    .Message(1, match => match                        //     match
                        .String(1, "/api/")                           //       prefix
                        .BoolValue(4, false)                          //       case_sensitive
                        .Message(6, h => h                            //       headers[0]
                            .String(1, "x-canary")                    //         name
                            .Message(13, sm => sm.String(1, "true"))  //         string_match.exact
                            .Bool(8, true))                           //         invert_match
                        .Message(6, h => h                            //       headers[1]
                            .String(1, "x-version")                   //         name
                            .Message(6, r => r.Varint(1, 2).Varint(2, 5)) //     range_match [2, 5)
                            .Bool(14, true))                          //         treat_missing_header_as_empty
                        .Message(7, q => q                            //       query_parameters[0]
                            .String(1, "debug")                       //         name
                            .Bool(6, true))                           //         present_match
                        .Message(9, rf => rf                          //       runtime_fraction
                            .Message(1, fp => fp.Varint(1, 2500).Varint(2, 1)) // default_value: 2500 / TEN_THOUSAND
                            .String(2, "routing.reviews.canary"))     //         runtime_key
                        .Message(8, _ => { }))                        //       grpc {}
                    .Message(2, action => action                      //     route (RouteAction)
                        .Message(3, wc => wc                          //       weighted_clusters
                            .Message(1, cw => cw                      //         clusters[0]
                                .String(1, "outbound|9080|v1|reviews.default.svc.cluster.local") // name
                                .UInt(2, 90))                         //           weight
                            .Message(1, cw => cw                      //         clusters[1]
                                .String(1, "outbound|9080|v2|reviews.default.svc.cluster.local") // name
                                .UInt(2, 10)                          //           weight
                                .MapEntry(10, "envoy.filters.http.fault", v => v // typed_per_filter_config
                                    .String(1, "type.googleapis.com/envoy.config.route.v3.FilterConfig")
                                    .Bytes(2, disabledFilter))))
                        .Duration(8, 2)                               //       timeout
                        .Message(9, rp => rp                          //       retry_policy
                            .String(1, "5xx,reset,retriable-status-codes") // retry_on
                            .UInt(2, 3)                               //         num_retries
                            .Duration(3, 0, 500_000_000)              //         per_try_timeout
                            .Varint(6, 4)                             //         host_selection_retry_max_attempts
                            .PackedVarints(7, 409, 503)               //         retriable_status_codes
                            .Message(8, b => b                        //         retry_back_off
                                .Duration(1, 0, 25_000_000)           //           base_interval
                                .Duration(2, 1)))                     //           max_interval
                        .Message(15, hp => hp                         //       hash_policy[0]
                            .Message(1, h => h.String(1, "x-user"))   //         header.header_name
                            .Bool(4, true))                           //         terminal
                        .Message(15, hp => hp                         //       hash_policy[1]
                            .Message(3, cp => cp.Bool(1, true)))      //         connection_properties.source_ip
                        .Duration(24, 60)                             //       idle_timeout
                        .Message(36, msd => msd                       //       max_stream_duration
                            .Duration(2, 30)                          //         grpc_timeout_header_max
                            .Duration(3, 0, 100_000_000)))            //         grpc_timeout_header_offset
                    .String(14, "canary-split")                       //     name
                    .MapEntry(13, "envoy.filters.http.rbac", v => v   //     typed_per_filter_config
                        .String(1, "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute")
                        .Bytes(2, rbacPerRoute)))
                .Message(3, route => route                            //   routes[1]
                    .Message(1, match => match.String(14, "/health")) //     match.path_separated_prefix
                    .Message(7, dr => dr                              //     direct_response
                        .Varint(1, 200)                               //       status
                        .Message(2, body => body.String(3, "ok"))))   //       body.inline_string
                .Message(16, rp => rp.String(1, "connect-failure")))  //   retry_policy (virtual host)
            .BoolValue(7, true));                                     // validate_clusters

        var config = RouteConfiguration.Parser.ParseFrom(bytes);
        WireAssert.ParseKnown(RouteConfiguration.Parser, bytes);
        WireAssert.ParseKnown(RBACPerRoute.Parser, rbacPerRoute);

        Assert.Equal("reviews.default.svc.cluster.local:9080", config.Name);
        Assert.True(config.ValidateClusters);
        var vhost = Assert.Single(config.VirtualHosts);
        Assert.Equal("reviews", vhost.Name);
        Assert.Collection(
            vhost.Domains,
            d => Assert.Equal("reviews", d),
            d => Assert.Equal("reviews.default.svc.cluster.local", d));
        Assert.Equal("connect-failure", vhost.RetryPolicy.RetryOn);
        Assert.Equal(2, vhost.Routes.Count);

        var route = vhost.Routes[0];
        Assert.Equal("canary-split", route.Name);
        Assert.Equal(RouteMatch.PathSpecifierOneofCase.Prefix, route.Match.PathSpecifierCase);
        Assert.Equal("/api/", route.Match.Prefix);
        Assert.False(route.Match.CaseSensitive);
        Assert.NotNull(route.Match.Grpc);

        Assert.Equal(2, route.Match.Headers.Count);
        var canary = route.Match.Headers[0];
        Assert.Equal("x-canary", canary.Name);
        Assert.Equal(HeaderMatcher.HeaderMatchSpecifierOneofCase.StringMatch, canary.HeaderMatchSpecifierCase);
        Assert.Equal("true", canary.StringMatch.Exact);
        Assert.True(canary.InvertMatch);
        var version = route.Match.Headers[1];
        Assert.Equal(2, version.RangeMatch.Start);
        Assert.Equal(5, version.RangeMatch.End);
        Assert.True(version.TreatMissingHeaderAsEmpty);
        var query = Assert.Single(route.Match.QueryParameters);
        Assert.Equal("debug", query.Name);
        Assert.True(query.PresentMatch);

        Assert.Equal(2500u, route.Match.RuntimeFraction.DefaultValue.Numerator);
        Assert.Equal(FractionalPercent.Types.DenominatorType.TenThousand, route.Match.RuntimeFraction.DefaultValue.Denominator);
        Assert.Equal("routing.reviews.canary", route.Match.RuntimeFraction.RuntimeKey);

        Assert.Equal(Route.ActionOneofCase.Route_, route.ActionCase);
        var action = route.Route_;
        Assert.Equal(RouteAction.ClusterSpecifierOneofCase.WeightedClusters, action.ClusterSpecifierCase);
        Assert.Equal(2, action.WeightedClusters.Clusters.Count);
        Assert.Equal("outbound|9080|v1|reviews.default.svc.cluster.local", action.WeightedClusters.Clusters[0].Name);
        Assert.Equal(90u, action.WeightedClusters.Clusters[0].Weight);
        var v2 = action.WeightedClusters.Clusters[1];
        Assert.Equal("outbound|9080|v2|reviews.default.svc.cluster.local", v2.Name);
        Assert.Equal(10u, v2.Weight);
        Assert.True(v2.TypedPerFilterConfig["envoy.filters.http.fault"].Unpack<FilterConfig>().Disabled);

        Assert.Equal(TimeSpan.FromSeconds(2), action.Timeout.ToTimeSpan());
        Assert.Equal(TimeSpan.FromMinutes(1), action.IdleTimeout.ToTimeSpan());
        Assert.Equal("5xx,reset,retriable-status-codes", action.RetryPolicy.RetryOn);
        Assert.Equal(3u, action.RetryPolicy.NumRetries);
        Assert.Equal(TimeSpan.FromMilliseconds(500), action.RetryPolicy.PerTryTimeout.ToTimeSpan());
        Assert.Equal(4, action.RetryPolicy.HostSelectionRetryMaxAttempts);
        Assert.Collection(
            action.RetryPolicy.RetriableStatusCodes,
            code => Assert.Equal(409u, code),
            code => Assert.Equal(503u, code));
        Assert.Equal(TimeSpan.FromMilliseconds(25), action.RetryPolicy.RetryBackOff.BaseInterval.ToTimeSpan());
        Assert.Equal(TimeSpan.FromSeconds(1), action.RetryPolicy.RetryBackOff.MaxInterval.ToTimeSpan());

        Assert.Equal(2, action.HashPolicy.Count);
        Assert.Equal("x-user", action.HashPolicy[0].Header.HeaderName);
        Assert.True(action.HashPolicy[0].Terminal);
        Assert.Equal(RouteAction.Types.HashPolicy.PolicySpecifierOneofCase.ConnectionProperties, action.HashPolicy[1].PolicySpecifierCase);
        Assert.True(action.HashPolicy[1].ConnectionProperties.SourceIp);
        Assert.Equal(TimeSpan.FromSeconds(30), action.MaxStreamDuration.GrpcTimeoutHeaderMax.ToTimeSpan());
        Assert.Equal(TimeSpan.FromMilliseconds(100), action.MaxStreamDuration.GrpcTimeoutHeaderOffset.ToTimeSpan());

        var perRoute = route.TypedPerFilterConfig["envoy.filters.http.rbac"].Unpack<RBACPerRoute>();
        Assert.Equal("mesh_rbac", perRoute.Rbac.RulesStatPrefix);
        Assert.Equal(RbacPolicy.Types.Action.Deny, perRoute.Rbac.Rules.Action);
        var policy = perRoute.Rbac.Rules.Policies["deny-admin"];
        Assert.Equal("/admin", Assert.Single(policy.Permissions).UrlPath.Path.Prefix);
        Assert.Equal("spiffe://cluster.local/ns/default/sa/guest", Assert.Single(policy.Principals).Authenticated.PrincipalName.Exact);

        var health = vhost.Routes[1];
        Assert.Equal(RouteMatch.PathSpecifierOneofCase.PathSeparatedPrefix, health.Match.PathSpecifierCase);
        Assert.Equal("/health", health.Match.PathSeparatedPrefix);
        Assert.Equal(Route.ActionOneofCase.DirectResponse, health.ActionCase);
        Assert.Equal(200u, health.DirectResponse.Status);
        Assert.Equal("ok", health.DirectResponse.Body.InlineString);
    }
}
