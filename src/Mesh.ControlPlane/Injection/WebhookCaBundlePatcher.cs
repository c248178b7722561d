using System.Text;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Kubernetes;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Injection;

/// <summary>
/// The leader keeps <c>clientConfig.caBundle</c> of every webhook in the MutatingWebhookConfiguration
/// (<c>mesh-sidecar-injector</c>) equal to the mesh root, so the API server trusts the webhook's certificate, which the
/// mesh CA issues. It reads the configuration (and replaces it, with its resourceVersion, when a caBundle differs) every
/// 30 s, and every 2 s while the configuration is missing or the last attempt failed.
/// </summary>
internal sealed partial class WebhookCaBundlePatcher(KubernetesConfigSource source, string configurationName, string rootPem, TimeProvider time, ILogger logger)
    : ILeaderWork
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(2);

    private readonly string _caBundle = Convert.ToBase64String(Encoding.ASCII.GetBytes(rootPem));
    private DateTimeOffset _next;
    private bool _reportedMissing;

    /// <summary>How many times the configuration was written.</summary>
    public int Patches { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (now < _next)
        {
            return;
        }

        _next = now + RetryInterval;
        var path = "apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/" + configurationName;
        JsonObject configuration;
        try
        {
            configuration = await source.Api.SendForObjectAsync(path, HttpMethod.Get, null, cancellationToken).ConfigureAwait(false);
        }
        catch (k8s.Autorest.HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            if (!_reportedMissing)
            {
                _reportedMissing = true;
                Log.Missing(logger, configurationName);
            }

            return;
        }
        catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException or IOException or System.Text.Json.JsonException)
        {
            Log.Failed(logger, configurationName, ex.Message);
            return;
        }

        _reportedMissing = false;
        var changed = 0;
        if (configuration["webhooks"] is JsonArray webhooks)
        {
            foreach (var webhook in webhooks.OfType<JsonObject>())
            {
                var clientConfig = PodEdits.Object(webhook, "clientConfig");
                if (clientConfig["caBundle"]?.GetValue<string>() != _caBundle)
                {
                    clientConfig["caBundle"] = _caBundle;
                    changed++;
                }
            }
        }

        if (changed > 0)
        {
            try
            {
                using var _ = await source.Api.SendAsync(path, HttpMethod.Put, configuration, cancellationToken).ConfigureAwait(false);
                Patches++;
                Log.Patched(logger, configurationName, changed);
            }
            catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException or IOException)
            {
                // 409: changed meanwhile; read again on the next round.
                Log.Failed(logger, configurationName, ex.Message);
                return;
            }
        }

        _next = now + CheckInterval;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Wrote the mesh root into the caBundle of {Count} webhook(s) of MutatingWebhookConfiguration {Name}.")]
        public static partial void Patched(ILogger logger, string name, int count);

        [LoggerMessage(2, LogLevel.Warning, "MutatingWebhookConfiguration {Name} does not exist (yet): pods are not injected until it does (mesh install creates it).")]
        public static partial void Missing(ILogger logger, string name);

        [LoggerMessage(3, LogLevel.Warning, "Keeping the caBundle of MutatingWebhookConfiguration {Name} current failed; trying again: {Message}")]
        public static partial void Failed(ILogger logger, string name, string message);
    }
}
