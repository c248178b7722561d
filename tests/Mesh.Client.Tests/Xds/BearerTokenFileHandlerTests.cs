using Mesh.Client.Bootstrap;
using Mesh.Client.Xds;

namespace Mesh.Client.Tests.Xds;

/// <summary>gRFC A97 <c>jwt_token_file</c> call credentials: parsed from the bootstrap, sent as a bearer token, read again per stream.</summary>
public sealed class BearerTokenFileHandlerTests
{
    [Fact]
    public void Parse_JwtTokenFileCallCredsOverTls_ReadsTheFile_IgnoresOtherTypes()
    {
        var bootstrap = XdsBootstrap.Parse(
            """{"xds_servers": [{"server_uri": "cp:15012", "channel_creds": [{"type": "tls"}], "call_creds": [{"type": "sts"}, {"type": "jwt_token_file", "config": {"jwt_token_file": "/var/run/secrets/mesh/tokens/mesh-token"}}]}], "node": {"id": "n"}}""",
            "test");

        Assert.Equal("/var/run/secrets/mesh/tokens/mesh-token", bootstrap.XdsServers[0].CallCredentialsTokenFile);
    }

    [Theory]
    [InlineData("""{"xds_servers": [{"server_uri": "cp:15010", "channel_creds": [{"type": "insecure"}], "call_creds": [{"type": "jwt_token_file", "config": {"jwt_token_file": "/t"}}]}], "node": {"id": "n"}}""", "call credentials are sent only over TLS")]
    [InlineData("""{"xds_servers": [{"server_uri": "cp:15012", "channel_creds": [{"type": "tls"}], "call_creds": [{"type": "jwt_token_file", "config": {}}]}], "node": {"id": "n"}}""", "xds_servers[0].call_creds[0].config.jwt_token_file is required")]
    [InlineData("""{"xds_servers": [{"server_uri": "cp:15012", "channel_creds": [{"type": "tls"}], "call_creds": {}}], "node": {"id": "n"}}""", "xds_servers[0].call_creds must be an array")]
    public void Parse_BadCallCreds_ErrorNamesTheField(string json, string expected)
    {
        var ex = Assert.Throws<XdsBootstrapException>(() => XdsBootstrap.Parse(json, "test"));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_TokenFileRotated_EachRequestCarriesTheCurrentToken()
    {
        var file = Path.Combine(Path.GetTempPath(), $"mesh-jwt-{Guid.NewGuid():N}");
        var seen = new List<string?>();
        await File.WriteAllTextAsync(file, "first.jwt.token\n");
        try
        {
            using var handler = new BearerTokenFileHandler(file) { InnerHandler = new Recorder(seen) };
            using var invoker = new HttpMessageInvoker(handler);

            using (await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Post, "https://cp:15012/ads"), CancellationToken.None))
            {
            }

            await File.WriteAllTextAsync(file, "second.jwt.token");
            using (await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Post, "https://cp:15012/ads"), CancellationToken.None))
            {
            }

            File.Delete(file);
            var missing = await Assert.ThrowsAsync<HttpRequestException>(() => invoker.SendAsync(new HttpRequestMessage(HttpMethod.Post, "https://cp:15012/ads"), CancellationToken.None));

            Assert.Equal(["Bearer first.jwt.token", "Bearer second.jwt.token"], seen);
            Assert.Contains("jwt_token_file", missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private sealed class Recorder(List<string?> seen) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            seen.Add(request.Headers.Authorization?.ToString());
            return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK));
        }
    }
}
