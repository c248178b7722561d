using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;

namespace Mesh.Xds.Tests.Wire;

public class ClusterWireTests
{
    [Fact]
    public void ParseFrom_EdsRingHashClusterWithBreakersAndOutlierDetection_ReadsEveryField()
    {
        // envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        var tls = WireWriter.Build(w => w
            .Message(1, ctx => ctx                                   // common_tls_context
                .Message(1, p => p.Varint(1, 3).Varint(2, 4))        //   tls_params: min TLSv1_2, max TLSv1_3
                .Message(14, i => i                                  //   tls_certificate_provider_instance
                    .String(1, "google_cloud_private_spiffe")        //     instance_name
                    .String(2, "DEFAULT"))                           //     certificate_name
                .Message(8, cvc => cvc                               //   combined_validation_context
                    .Message(1, vc => vc                             //     default_validation_context
                        .Message(15, san => san                      //       match_typed_subject_alt_names[0]
                            .Varint(1, 3)                            //         san_type = URI
                            .Message(2, m => m.String(1, "spiffe://cluster.local/ns/default/sa/reviews"))) // matcher.exact
                        .Message(13, i => i.String(1, "google_cloud_private_spiffe")))) // ca_certificate_provider_instance
                .String(4, "h2"))                                    //   alpn_protocols[0]
            .String(2, "reviews.default.svc.cluster.local"));         // sni

        // envoy.config.cluster.v3.Cluster
        var bytes = WireWriter.Build(w => w
            .String(1, "outbound|9080|v1|reviews.default.svc.cluster.local") // name
            .Varint(2, 3)                                            // type = EDS
            .Message(3, eds => eds                                   // eds_cluster_config
                .Message(1, cs => cs.Message(3, _ => { }).Varint(6, 2)) // eds_config: ads {}, resource_api_version = V3
                .String(2, "outbound|9080|v1|reviews.default.svc.cluster.local")) // service_name
            .Duration(4, 1, 500_000_000)                             // connect_timeout = 1.5s
            .Varint(6, 2)                                            // lb_policy = RING_HASH
            .Message(10, cb => cb                                    // circuit_breakers
                .Message(1, t => t                                   //   thresholds[0]
                    .UInt(2, 1000)                                   //     max_connections
                    .UInt(3, 200)                                    //     max_pending_requests
                    .UInt(4, 100)                                    //     max_requests
                    .UInt(5, 3))                                     //     max_retries
                .Message(1, t => t                                   //   thresholds[1]
                    .Varint(1, 1)                                    //     priority = HIGH
                    .UInt(4, 50)))                                   //     max_requests
            .Message(19, od => od                                    // outlier_detection
                .UInt(1, 7)                                          //   consecutive_5xx
                .Duration(2, 10)                                     //   interval
                .Duration(3, 30)                                     //   base_ejection_time
                .UInt(4, 20)                                         //   max_ejection_percent
                .UInt(5, 100)                                        //   enforcing_consecutive_5xx
                .UInt(6, 90)                                         //   enforcing_success_rate
                .UInt(7, 4)                                          //   success_rate_minimum_hosts
                .UInt(8, 50)                                         //   success_rate_request_volume
                .UInt(9, 1900)                                       //   success_rate_stdev_factor
                .UInt(10, 6)                                         //   consecutive_gateway_failure
                .UInt(11, 80)                                        //   enforcing_consecutive_gateway_failure
                .Bool(12, true)                                      //   split_external_local_origin_errors
                .UInt(13, 8)                                         //   consecutive_local_origin_failure
                .UInt(16, 85)                                        //   failure_percentage_threshold
                .UInt(17, 70)                                        //   enforcing_failure_percentage
                .UInt(19, 9)                                         //   failure_percentage_minimum_hosts
                .UInt(20, 60)                                        //   failure_percentage_request_volume
                .Duration(21, 300)                                   //   max_ejection_time
                .Duration(22, 2))                                    //   max_ejection_time_jitter
            .Message(23, rh => rh                                    // ring_hash_lb_config
                .UInt(1, 1024)                                       //   minimum_ring_size
                .Varint(3, 1)                                        //   hash_function = MURMUR_HASH_2
                .UInt(4, 8_388_608))                                 //   maximum_ring_size
            .Message(24, ts => ts                                    // transport_socket
                .String(1, "envoy.transport_sockets.tls")            //   name
                .Any(3, "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", tls)) // typed_config
            .Message(27, c => c                                      // common_lb_config
                .Message(1, p => p.Double(1, 25.5))                  //   healthy_panic_threshold (Percent.value)
                .Message(3, _ => { }))                               //   locality_weighted_lb_config
            .Message(41, lbp => lbp                                  // load_balancing_policy
                .Message(1, p => p                                   //   policies[0]
                    .Message(4, tec => tec                           //     typed_extension_config
                        .String(1, "envoy.load_balancing_policies.ring_hash")
                        .Any(2, "type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash", [0x08, 0x01]))))
            .Message(42, lrs => lrs.Message(5, _ => { })));           // lrs_server: self {}

        var cluster = Cluster.Parser.ParseFrom(bytes);
        WireAssert.ParseKnown(Cluster.Parser, bytes);
        WireAssert.ParseKnown(UpstreamTlsContext.Parser, tls);

        Assert.Equal("outbound|9080|v1|reviews.default.svc.cluster.local", cluster.Name);
        Assert.Equal(Cluster.ClusterDiscoveryTypeOneofCase.Type, cluster.ClusterDiscoveryTypeCase);
        Assert.Equal(Cluster.Types.DiscoveryType.Eds, cluster.Type);
        Assert.Equal("outbound|9080|v1|reviews.default.svc.cluster.local", cluster.EdsClusterConfig.ServiceName);
        Assert.NotNull(cluster.EdsClusterConfig.EdsConfig.Ads);
        Assert.Equal(ApiVersion.V3, cluster.EdsClusterConfig.EdsConfig.ResourceApiVersion);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), cluster.ConnectTimeout.ToTimeSpan());
        Assert.Equal(Cluster.Types.LbPolicy.RingHash, cluster.LbPolicy);

        Assert.Equal(Cluster.LbConfigOneofCase.RingHashLbConfig, cluster.LbConfigCase);
        Assert.Equal(1024ul, cluster.RingHashLbConfig.MinimumRingSize);
        Assert.Equal(8_388_608ul, cluster.RingHashLbConfig.MaximumRingSize);
        Assert.Equal(Cluster.Types.RingHashLbConfig.Types.HashFunction.MurmurHash2, cluster.RingHashLbConfig.HashFunction);

        Assert.Equal(2, cluster.CircuitBreakers.Thresholds.Count);
        var defaults = cluster.CircuitBreakers.Thresholds[0];
        Assert.Equal(RoutingPriority.Default, defaults.Priority);
        Assert.Equal(1000u, defaults.MaxConnections);
        Assert.Equal(200u, defaults.MaxPendingRequests);
        Assert.Equal(100u, defaults.MaxRequests);
        Assert.Equal(3u, defaults.MaxRetries);
        var high = cluster.CircuitBreakers.Thresholds[1];
        Assert.Equal(RoutingPriority.High, high.Priority);
        Assert.Equal(50u, high.MaxRequests);
        Assert.Null(high.MaxConnections);

        var od = cluster.OutlierDetection;
        Assert.Equal(7u, od.Consecutive5Xx);
        Assert.Equal(TimeSpan.FromSeconds(10), od.Interval.ToTimeSpan());
        Assert.Equal(TimeSpan.FromSeconds(30), od.BaseEjectionTime.ToTimeSpan());
        Assert.Equal(20u, od.MaxEjectionPercent);
        Assert.Equal(100u, od.EnforcingConsecutive5Xx);
        Assert.Equal(90u, od.EnforcingSuccessRate);
        Assert.Equal(4u, od.SuccessRateMinimumHosts);
        Assert.Equal(50u, od.SuccessRateRequestVolume);
        Assert.Equal(1900u, od.SuccessRateStdevFactor);
        Assert.Equal(6u, od.ConsecutiveGatewayFailure);
        Assert.Equal(80u, od.EnforcingConsecutiveGatewayFailure);
        Assert.True(od.SplitExternalLocalOriginErrors);
        Assert.Equal(8u, od.ConsecutiveLocalOriginFailure);
        Assert.Equal(85u, od.FailurePercentageThreshold);
        Assert.Equal(70u, od.EnforcingFailurePercentage);
        Assert.Equal(9u, od.FailurePercentageMinimumHosts);
        Assert.Equal(60u, od.FailurePercentageRequestVolume);
        Assert.Equal(TimeSpan.FromMinutes(5), od.MaxEjectionTime.ToTimeSpan());
        Assert.Equal(TimeSpan.FromSeconds(2), od.MaxEjectionTimeJitter.ToTimeSpan());

        Assert.Equal(25.5, cluster.CommonLbConfig.HealthyPanicThreshold.Value);
        Assert.NotNull(cluster.CommonLbConfig.LocalityWeightedLbConfig);
        var policy = Assert.Single(cluster.LoadBalancingPolicy.Policies);
        Assert.Equal("envoy.load_balancing_policies.ring_hash", policy.TypedExtensionConfig.Name);
        Assert.Equal("0801", Convert.ToHexString(policy.TypedExtensionConfig.TypedConfig.Value.Span));
        Assert.Equal(ConfigSource.ConfigSourceSpecifierOneofCase.Self, cluster.LrsServer.ConfigSourceSpecifierCase);

        Assert.Equal("envoy.transport_sockets.tls", cluster.TransportSocket.Name);
        var upstreamTls = cluster.TransportSocket.TypedConfig.Unpack<UpstreamTlsContext>();
        Assert.Equal("reviews.default.svc.cluster.local", upstreamTls.Sni);
        var common = upstreamTls.CommonTlsContext;
        Assert.Equal(TlsParameters.Types.TlsProtocol.Tlsv12, common.TlsParams.TlsMinimumProtocolVersion);
        Assert.Equal(TlsParameters.Types.TlsProtocol.Tlsv13, common.TlsParams.TlsMaximumProtocolVersion);
        Assert.Equal("google_cloud_private_spiffe", common.TlsCertificateProviderInstance.InstanceName);
        Assert.Equal("DEFAULT", common.TlsCertificateProviderInstance.CertificateName);
        Assert.Equal("h2", Assert.Single(common.AlpnProtocols));
        Assert.Equal(CommonTlsContext.ValidationContextTypeOneofCase.CombinedValidationContext, common.ValidationContextTypeCase);
        var validation = common.CombinedValidationContext.DefaultValidationContext;
        Assert.Equal("google_cloud_private_spiffe", validation.CaCertificateProviderInstance.InstanceName);
        var san = Assert.Single(validation.MatchTypedSubjectAltNames);
        Assert.Equal(SubjectAltNameMatcher.Types.SanType.Uri, san.SanType);
        Assert.Equal("spiffe://cluster.local/ns/default/sa/reviews", san.Matcher.Exact);
    }

    [Fact]
    public void ParseFrom_SecretWithCertificateAndValidationContext_ReadsEveryField()
    {
        // envoy.extensions.transport_sockets.tls.v3.Secret
        var certificate = WireWriter.Build(w => w
            .String(1, "default")                                    // name
            .Message(2, c => c                                       // tls_certificate
                .Message(1, d => d.String(1, "/etc/certs/cert-chain.pem")) // certificate_chain.filename
                .Message(2, d => d.String(4, "MESH_PRIVATE_KEY"))));  // private_key.environment_variable

        var bundle = WireWriter.Build(w => w
            .String(1, "ROOTCA")                                     // name
            .Message(4, v => v                                       // validation_context
                .Message(1, d => d.String(3, "-----BEGIN CERTIFICATE-----")) // trusted_ca.inline_string
                .String(3, "spki-hash")                              // verify_certificate_spki[0]
                .Bool(8, true)));                                    // allow_expired_certificate

        var secret = WireAssert.ParseKnown(Secret.Parser, certificate);
        var root = WireAssert.ParseKnown(Secret.Parser, bundle);

        Assert.Equal("default", secret.Name);
        Assert.Equal(Secret.TypeOneofCase.TlsCertificate, secret.TypeCase);
        Assert.Equal("/etc/certs/cert-chain.pem", secret.TlsCertificate.CertificateChain.Filename);
        Assert.Equal(DataSource.SpecifierOneofCase.EnvironmentVariable, secret.TlsCertificate.PrivateKey.SpecifierCase);
        Assert.Equal("MESH_PRIVATE_KEY", secret.TlsCertificate.PrivateKey.EnvironmentVariable);

        Assert.Equal("ROOTCA", root.Name);
        Assert.Equal(Secret.TypeOneofCase.ValidationContext, root.TypeCase);
        Assert.Equal("-----BEGIN CERTIFICATE-----", root.ValidationContext.TrustedCa.InlineString);
        Assert.Equal("spki-hash", Assert.Single(root.ValidationContext.VerifyCertificateSpki));
        Assert.True(root.ValidationContext.AllowExpiredCertificate);
    }
}
