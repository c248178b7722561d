using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Mesh.Testing;
using Mesh.Testing.Kubernetes;
using Microsoft.Extensions.Logging;

namespace Mesh.Samples.Tests.Bookinfo;

/// <summary>
/// Bookinfo as a cluster with Mesh installed runs it, minus the cluster: the manifests of samples/bookinfo/kubernetes
/// (no bootstrap in them), the namespace labelled for injection, each pod created through the (fake) API server, which
/// calls the injection webhook; then each injected pod spec run as a local process with exactly the env and files it
/// prescribes (tokens written by a fake kubelet, bound to the pod). Every pod joins the mesh over TLS with its
/// ServiceAccount token, gets its workload certificate from the CA (PeerAuthentication STRICT makes every call between
/// the services mutual TLS), and the product page renders.
/// </summary>
public sealed class InjectedBookinfoTests
{
    private static readonly string[] Accounts = ["details", "ratings", "reviews", "productpage"];

    [Fact]
    public async Task InjectedPodSpecs_RunAsLocalProcesses_JoinTheMeshGetCertificatesAndServeThePage()
    {
        var root = Directory.CreateTempSubdirectory("mesh-injected-bookinfo-");
        var pods = new List<LocalPodProcess>();
        try
        {
            await using var server = await FakeKubernetesApiServer.StartAsync();
            var tokens = FakeServiceAccountTokens.Install(server);
            server.Store.Upsert(KubernetesObjects.Namespace("default", new Dictionary<string, string> { ["istio-injection"] = "enabled" }));
            var golden = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "tests", "Mesh.Cli.Tests", "testassets", "snapshots", "install-default.yaml"));
            var webhook = golden.Split("---\n").Single(d => d.Contains("\nkind: MutatingWebhookConfiguration\n", StringComparison.Ordinal));
            server.Store.Upsert(JsonNode.Parse(KubernetesJson.Serialize(KubernetesYaml.Deserialize<V1MutatingWebhookConfiguration>(webhook)))!.AsObject());
            await using var cp = await KubernetesTestControlPlane.StartAsync(server);
            server.Admission.MapService("mesh-system", "mesh-controlplane", 443, new IPEndPoint(IPAddress.Loopback, cp.WebhookAddress.Port));
            var configMaps = server.TypeOf("v1", "ConfigMap");
            var webhooks = server.TypeOf("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration");
            await WaitAsync(
                () => server.Store.Get(configMaps, "default", "mesh-ca-root-cert") is not null
                    && server.Store.Get(webhooks, null, "mesh-sidecar-injector")!["webhooks"]![0]!["clientConfig"]!["caBundle"] is not null,
                "the leader to patch the caBundle and publish the mesh root", TimeSpan.FromSeconds(30));

            // kubectl apply: the Services as they are; each Deployment's pod as the ReplicaSet controller creates it.
            var manifestText = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "samples", "bookinfo", "kubernetes", "bookinfo.yaml"));
            var manifests = KubernetesYaml.LoadAllFromString(manifestText);
            Assert.All(manifests.OfType<V1Deployment>(), d => Assert.Null(d.Spec.Template.Spec.Containers[0].Env));
            foreach (var service in manifests.OfType<V1Service>())
            {
                server.Store.Upsert(JsonNode.Parse(KubernetesJson.Serialize(service))!.AsObject());
            }

            // mTLS everywhere but at the product page, which the test (outside the mesh) loads: every call between the
            // services then needs the workload certificates the pods get with their ServiceAccount tokens.
            server.Store.Upsert(PeerAuthentication("default", "STRICT", null));
            server.Store.Upsert(PeerAuthentication("productpage", "PERMISSIVE", "productpage"));

            using var client = new k8s.Kubernetes(server.CreateClientConfiguration());
            var kubelet = new FakeKubelet(server.Store, tokens, root.FullName);
            var dns = new Dictionary<string, string> { ["mesh-controlplane.mesh-system.svc:15012"] = "127.0.0.1:" + cp.TlsAddress.Port.ToString(CultureInfo.InvariantCulture) };
            var started = new List<(V1Deployment Deployment, string Pod, LocalPodProcess Process)>();
            foreach (var deployment in manifests.OfType<V1Deployment>())
            {
                var pod = KubernetesJson.Deserialize<V1Pod>(KubernetesObjects.PodFromDeployment(deployment).ToJsonString());
                var created = await client.CoreV1.CreateNamespacedPodAsync(pod, "default");
                Assert.Contains(created.Spec.Containers[0].Env, e => e.Name == "GRPC_XDS_BOOTSTRAP_CONFIG");
                var stored = server.Store.Get(server.TypeOf("v1", "Pod"), "default", created.Metadata.Name)!;
                var container = Assert.Single(kubelet.Prepare(stored));
                var process = LocalPodProcess.Start(created.Metadata.Name, container, dns);
                pods.Add(process);
                started.Add((deployment, created.Metadata.Name, process));
            }

            // The EndpointSlice controller: one slice per pod (each local process has its own port).
            var productpage = (Uri?)null;
            foreach (var (deployment, podName, process) in started)
            {
                var address = await process.Listening.WaitAsync(TimeSpan.FromSeconds(60));
                var role = deployment.Spec.Template.Metadata.Labels["app"];
                var http = role == "productpage";
                server.Store.Upsert(KubernetesObjects.EndpointSlice(deployment.Metadata.Name, role, address.Port, [("127.0.0.1", podName)], portName: http ? "http" : "grpc"));
                if (http)
                {
                    productpage = new Uri(address, "/productpage");
                }
            }

            using var browser = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            string? html = null;
            await WaitAsync(
                async () =>
                {
                    try
                    {
                        html = await browser.GetStringAsync(productpage);
                        return html.Contains("Reviews served by", StringComparison.Ordinal) && !html.Contains("currently unavailable", StringComparison.Ordinal)
                            && !html.Contains("Error fetching", StringComparison.Ordinal);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        html = ex.Message;
                        return false;
                    }
                },
                "the product page to render with details and reviews", TimeSpan.FromSeconds(60), () => html + "\n" + string.Join("\n\n", pods.Select(p => p.Name + ":\n" + p.Output))
                    + "\ncontrol plane:\n" + string.Join("\n", cp.Logs.MessagesAtLeast(LogLevel.Information)));

            // Every service account gets its certificate from the CA, proven with its pod's projected token (ratings as
            // soon as reviews v2 or v3, which call it, serve a page: reviews round-robins over its versions).
            List<string> Issued() => [.. cp.Logs.MessagesAtLeast(LogLevel.Information).Where(m => m.Contains("Issued a certificate for", StringComparison.Ordinal))];
            List<string> Missing() => [.. Accounts.Where(account => !Issued().Any(m => m.Contains($"spiffe://cluster.local/ns/default/sa/{account},", StringComparison.Ordinal)))];
            await WaitAsync(
                async () =>
                {
                    try
                    {
                        html = await browser.GetStringAsync(productpage);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        html = ex.Message;
                    }

                    return Missing().Count == 0 && html.Contains("Reviews served by", StringComparison.Ordinal)
                        && !html.Contains("currently unavailable", StringComparison.Ordinal);
                },
                "a certificate for every service account and a whole page", TimeSpan.FromSeconds(40),
                () => "missing " + string.Join(", ", Missing()) + " in:\n" + string.Join("\n", Issued()) + "\nlast page:\n" + html);

            Assert.Contains(tokens.Reviewed, r => r.Authenticated);
            Assert.DoesNotContain(tokens.Reviewed, r => !r.Authenticated);
        }
        finally
        {
            foreach (var pod in pods)
            {
                await pod.DisposeAsync();
            }

            root.Delete(recursive: true);
        }
    }

    private static JsonObject PeerAuthentication(string name, string mode, string? app)
    {
        var spec = new JsonObject { ["mtls"] = new JsonObject { ["mode"] = mode } };
        if (app is not null)
        {
            spec["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = app } };
        }

        return new JsonObject
        {
            ["apiVersion"] = "security.istio.io/v1",
            ["kind"] = "PeerAuthentication",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" },
            ["spec"] = spec,
        };
    }

    private static Task WaitAsync(Func<bool> condition, string what, TimeSpan timeout) => WaitAsync(() => Task.FromResult(condition()), what, timeout);

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, TimeSpan timeout, Func<string>? diagnostics = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {what}\n{diagnostics?.Invoke()}");
            }

            await Task.Delay(100);
        }
    }
}
