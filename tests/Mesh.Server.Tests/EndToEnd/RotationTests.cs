using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Security;
using Mesh.Server.Tests.Reviews;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Server.Tests.EndToEnd;

/// <summary>Certificate rotation under load: short-lived certificates on both sides, renewed while calls keep flowing.</summary>
public class RotationTests
{
    [Fact]
    public async Task Rotation_20SecondCertificatesUnder60SecondsOfLoad_NoFailedCalls()
    {
        var lifetime = TimeSpan.FromSeconds(20);
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", lifetime);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));
        var services = mesh.Client("productpage", lifetime);
        var client = services.GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (_, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());

        var provider = services.GetRequiredService<CertificateProviderStore>().Get("default")!;
        var serials = new HashSet<string>(StringComparer.Ordinal) { provider.Current!.Certificate.SerialNumber };
        provider.Changed += certificate => { lock (serials) { serials.Add(certificate.Certificate.SerialNumber); } };

        var ok = 0;
        var failures = new List<string>();
        var end = DateTime.UtcNow.AddSeconds(60);
        var handshakes = 0;
        var workers = Enumerable.Range(0, 4).Select(async worker =>
        {
            // Workers 0-2 share one long-lived channel; worker 3 opens a new channel (new connections, new
            // handshakes with whatever certificates are current) every 50 calls.
            var calls = 0;
            Grpc.Net.Client.GrpcChannel? fresh = null;
            while (DateTime.UtcNow < end)
            {
                try
                {
                    var target = client;
                    if (worker == 3)
                    {
                        if (calls++ % 50 == 0)
                        {
                            fresh?.Dispose();
                            fresh = Grpc.Net.Client.GrpcChannel.ForAddress("xds:///reviews:9080", new Grpc.Net.Client.GrpcChannelOptions().UseMesh(services));
                            handshakes++;
                        }

                        target = new Reviews.Reviews.ReviewsClient(fresh!);
                    }

                    await target.GetReviewsAsync(new ReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
                    Interlocked.Increment(ref ok);
                }
                catch (RpcException ex)
                {
                    lock (failures)
                    {
                        failures.Add(ex.Status.ToString());
                    }
                }

                await Task.Delay(5);
            }

            fresh?.Dispose();
        });
        await Task.WhenAll(workers);

        Assert.Empty(failures);
        Assert.True(ok > 1000, $"only {ok} calls completed");
        Assert.True(handshakes > 10, $"only {handshakes} fresh channels were opened");

        // Renewed at about half the lifetime: at least five certificates in 60 s on the client side.
        Assert.True(serials.Count >= 4, $"the client certificate was renewed only {serials.Count - 1} times");
    }
}
