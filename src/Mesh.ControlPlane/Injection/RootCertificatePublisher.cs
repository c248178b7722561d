using System.Text.Json.Nodes;
using Mesh.ControlPlane.Kubernetes;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Injection;

/// <summary>
/// The leader writes the mesh root certificate into the ConfigMap <c>mesh-ca-root-cert</c> (key <c>root-cert.pem</c>) of
/// every namespace that is not excluded, as Istio's <c>istio-ca-root-cert</c>: injected pods mount it to trust the control
/// plane's TLS port and CA. A namespace is checked when it first appears and every 5 minutes after; a ConfigMap that is
/// missing is created, one that differs is replaced.
/// </summary>
internal sealed partial class RootCertificatePublisher(KubernetesConfigSource source, InjectionOptions options, string rootPem, TimeProvider time, ILogger logger)
    : ILeaderWork
{
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromMinutes(5);

    private readonly Dictionary<string, DateTimeOffset> _next = new(StringComparer.Ordinal);

    /// <summary>How many ConfigMaps were created or replaced.</summary>
    public int Writes { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var item in source.Objects(KubernetesKind.Namespace))
        {
            if (item["metadata"]?["name"]?.GetValue<string>() is not { } ns || options.ExcludedNamespaces.Contains(ns, StringComparer.Ordinal)
                || (item["status"]?["phase"]?.GetValue<string>() == "Terminating"))
            {
                continue;
            }

            if (_next.TryGetValue(ns, out var next) && now < next)
            {
                continue;
            }

            try
            {
                await EnsureAsync(ns, cancellationToken).ConfigureAwait(false);
                _next[ns] = now + RecheckInterval;
            }
            catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException or IOException or System.Text.Json.JsonException)
            {
                _next[ns] = now + WebhookCaBundlePatcher.RetryInterval;
                Log.Failed(logger, ns, ex.Message);
            }
        }
    }

    private async Task EnsureAsync(string ns, CancellationToken cancellationToken)
    {
        var path = $"api/v1/namespaces/{ns}/configmaps";
        var name = InjectionTemplates.RootCertificateConfigMap;
        JsonObject? existing = null;
        try
        {
            existing = await source.Api.SendForObjectAsync(path + "/" + name, HttpMethod.Get, null, cancellationToken).ConfigureAwait(false);
        }
        catch (k8s.Autorest.HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
        }

        if (existing?["data"]?[InjectionTemplates.RootCertificateKey]?.GetValue<string>() == rootPem)
        {
            return;
        }

        var configMap = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = ns,
                ["labels"] = new JsonObject { ["app.kubernetes.io/part-of"] = "mesh", ["istio.io/config"] = "true" },
            },
            ["data"] = new JsonObject { [InjectionTemplates.RootCertificateKey] = rootPem },
        };
        if (existing is null)
        {
            using var _ = await source.Api.SendAsync(path, HttpMethod.Post, configMap, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            configMap["metadata"]!["resourceVersion"] = existing["metadata"]?["resourceVersion"]?.DeepClone();
            using var _ = await source.Api.SendAsync(path + "/" + name, HttpMethod.Put, configMap, cancellationToken).ConfigureAwait(false);
        }

        Writes++;
        Log.Written(logger, ns, name);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Wrote the mesh root certificate into ConfigMap {Namespace}/{Name}.")]
        public static partial void Written(ILogger logger, string @namespace, string name);

        [LoggerMessage(2, LogLevel.Warning, "Writing the mesh root certificate into namespace {Namespace} failed; trying again: {Message}")]
        public static partial void Failed(ILogger logger, string @namespace, string message);
    }
}
