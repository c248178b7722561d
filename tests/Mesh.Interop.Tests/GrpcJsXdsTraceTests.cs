namespace Mesh.Interop.Tests;

/// <summary>The NACK detection the interop tests rely on, checked against grpc-js-xds 1.14's trace format.</summary>
public class GrpcJsXdsTraceTests
{
    [Fact]
    public void FindNacks_RequestWithErrorDetail_ReturnsTypeVersionAndMessage()
    {
        const string Stderr = """
            D 2026-01-01T00:00:00.000Z | v1.14.7 1 | xds_client | 127.0.0.1:1 Sending discovery request: {
              "node": null,
              "type_url": "type.googleapis.com/envoy.config.listener.v3.Listener",
              "response_nonce": "1",
              "resource_names": [
                "echo:9000"
              ],
              "version_info": "1",
              "error_detail": null
            }
            D 2026-01-01T00:00:00.001Z | v1.14.7 1 | xds_client | 127.0.0.1:1 Sending discovery request: {
              "node": null,
              "type_url": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
              "response_nonce": "2",
              "resource_names": [],
              "version_info": "",
              "error_detail": {
                "code": 14,
                "message": "xDS response validation errors: [route: weights sum to 0]"
              }
            }
            D 2026-01-01T00:00:00.002Z | v1.14.7 1 | xds_client | Notifying 1 watchers
            """;

        var nacks = GrpcJsXdsClient.FindNacks(Stderr);

        Assert.Equal(
            ["type.googleapis.com/envoy.config.route.v3.RouteConfiguration (version , nonce 2): xDS response validation errors: [route: weights sum to 0]"],
            nacks);
    }
}
