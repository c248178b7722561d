using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace Mesh.Testing.Kubernetes;

/// <summary>One call the fake API server made to a mutating webhook.</summary>
/// <param name="Webhook">The webhook's name.</param>
/// <param name="Uid">The AdmissionReview's uid.</param>
/// <param name="Allowed">Whether the webhook allowed the object.</param>
/// <param name="Patched">Whether it returned a patch.</param>
/// <param name="Error">The failure calling it, or null.</param>
public sealed record FakeAdmissionCall(string Webhook, string Uid, bool Allowed, bool Patched, string? Error);

/// <summary>
/// Mutating admission as the API server does it, for objects created through the API: every webhook of every stored
/// MutatingWebhookConfiguration whose rules, namespaceSelector and objectSelector match is called over HTTPS with an
/// <c>admission.k8s.io/v1</c> AdmissionReview, trusting only its <c>clientConfig.caBundle</c> and checking the certificate
/// against the host it dials (<c>SERVICE.NAMESPACE.svc</c>, or the URL's host); its JSON Patch is applied with a JSON Patch
/// library. A webhook that refuses fails the create; one that cannot be called fails it under <c>failurePolicy: Fail</c>
/// and is skipped under <c>Ignore</c>. Services are dialled where <see cref="MapService"/> says they listen.
/// </summary>
public sealed class FakeAdmission(FakeResourceStore store)
{
    private readonly ConcurrentDictionary<string, IPEndPoint> _services = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<FakeAdmissionCall> _calls = new();

    /// <summary>Every webhook call so far.</summary>
    public IReadOnlyList<FakeAdmissionCall> Calls => [.. _calls];

    /// <summary>Says where a Service's port listens (what kube-proxy would do): <c>name.namespace.svc:port</c> → <paramref name="endpoint"/>.</summary>
    public void MapService(string @namespace, string name, int port, IPEndPoint endpoint) =>
        _services[$"{name}.{@namespace}.svc:{port.ToString(CultureInfo.InvariantCulture)}"] = endpoint;

    internal async Task<JsonObject> AdmitAsync(FakeResourceType type, string? ns, JsonObject item, CancellationToken cancellationToken)
    {
        var configType = store.Types.FirstOrDefault(t => t.Kind == "MutatingWebhookConfiguration");
        if (configType is null)
        {
            return item;
        }

        foreach (var configuration in store.List(configType).OrderBy(c => c["metadata"]!["name"]!.GetValue<string>(), StringComparer.Ordinal))
        {
            foreach (var webhook in (configuration["webhooks"] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (!Matches(webhook, type, ns, item))
                {
                    continue;
                }

                item = await CallAsync(webhook, type, ns, item, cancellationToken).ConfigureAwait(false);
            }
        }

        return item;
    }

    private bool Matches(JsonObject webhook, FakeResourceType type, string? ns, JsonObject item)
    {
        static bool Has(JsonNode? list, string value) => list is JsonArray array && array.Any(v => v?.GetValue<string>() is { } s && (s == "*" || s == value));
        var ruleMatches = (webhook["rules"] as JsonArray ?? []).OfType<JsonObject>().Any(rule =>
            Has(rule["operations"], "CREATE") && Has(rule["apiGroups"], type.Group) && Has(rule["apiVersions"], type.Version) && Has(rule["resources"], type.Plural));
        if (!ruleMatches)
        {
            return false;
        }

        if (ns is not null)
        {
            var namespaceType = store.TypeOf("v1", "Namespace");
            var namespaceLabels = FakeLabelSelector.LabelsOf(store.Get(namespaceType, null, ns));
            namespaceLabels["kubernetes.io/metadata.name"] = ns; // set on every namespace by the API server
            if (!FakeLabelSelector.Matches(webhook["namespaceSelector"] as JsonObject, namespaceLabels))
            {
                return false;
            }
        }

        return FakeLabelSelector.Matches(webhook["objectSelector"] as JsonObject, FakeLabelSelector.LabelsOf(item));
    }

    private async Task<JsonObject> CallAsync(JsonObject webhook, FakeResourceType type, string? ns, JsonObject item, CancellationToken cancellationToken)
    {
        var name = webhook["name"]!.GetValue<string>();
        var uid = Guid.NewGuid().ToString();
        var fail = webhook["failurePolicy"]?.GetValue<string>() != "Ignore";
        JsonObject? response = null;
        string? error;
        try
        {
            response = await SendAsync(webhook, type, ns, item, uid, cancellationToken).ConfigureAwait(false);
            error = response?["response"]?["uid"]?.GetValue<string>() == uid ? null : "the webhook answered with another uid";
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException or System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            error = ex.Message;
        }

        if (error is not null)
        {
            _calls.Enqueue(new FakeAdmissionCall(name, uid, false, false, error));
            if (fail)
            {
                throw new FakeApiException(500, "InternalError", $"Internal error occurred: failed calling webhook \"{name}\": {error}");
            }

            return item;
        }

        var result = (JsonObject)response!["response"]!;
        var allowed = result["allowed"]?.GetValue<bool>() == true;
        var patch = result["patch"]?.GetValue<string>();
        _calls.Enqueue(new FakeAdmissionCall(name, uid, allowed, patch is not null, null));
        if (!allowed)
        {
            var code = result["status"]?["code"]?.GetValue<int>() ?? 400;
            var message = result["status"]?["message"]?.GetValue<string>() ?? "denied";
            throw new FakeApiException(code, "Forbidden", $"admission webhook \"{name}\" denied the request: {message}");
        }

        if (patch is null)
        {
            return item;
        }

        if (result["patchType"]?.GetValue<string>() != "JSONPatch")
        {
            throw new FakeApiException(500, "InternalError", $"Internal error occurred: webhook \"{name}\" returned a patch whose patchType is not JSONPatch");
        }

        try
        {
            return JsonPatch.Apply(item, Encoding.UTF8.GetString(Convert.FromBase64String(patch)));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new FakeApiException(500, "InternalError", $"Internal error occurred: the JSON patch of webhook \"{name}\" does not apply: {ex.Message}");
        }
    }

    private async Task<JsonObject?> SendAsync(JsonObject webhook, FakeResourceType type, string? ns, JsonObject item, string uid, CancellationToken cancellationToken)
    {
        var clientConfig = webhook["clientConfig"] as JsonObject ?? throw new InvalidOperationException("the webhook has no clientConfig");
        Uri target;
        IPEndPoint? dial = null;
        if (clientConfig["url"]?.GetValue<string>() is { } url)
        {
            target = new Uri(url);
        }
        else
        {
            var service = clientConfig["service"] as JsonObject ?? throw new InvalidOperationException("the webhook's clientConfig has neither url nor service");
            var port = service["port"]?.GetValue<int>() ?? 443;
            var host = $"{service["name"]!.GetValue<string>()}.{service["namespace"]!.GetValue<string>()}.svc";
            if (!_services.TryGetValue(host + ":" + port.ToString(CultureInfo.InvariantCulture), out dial))
            {
                throw new InvalidOperationException($"dial tcp: lookup {host}: no such host (no endpoint mapped for port {port})");
            }

            target = new Uri($"https://{host}:{port.ToString(CultureInfo.InvariantCulture)}{service["path"]?.GetValue<string>() ?? "/"}");
        }

        var roots = new X509Certificate2Collection();
        if (clientConfig["caBundle"]?.GetValue<string>() is { Length: > 0 } bundle)
        {
            roots.ImportFromPem(Encoding.ASCII.GetString(Convert.FromBase64String(bundle)));
        }

        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => Trusted(roots, certificate, errors);
        if (dial is not null)
        {
            handler.ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(dial, token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        var seconds = webhook["timeoutSeconds"]?.GetValue<int>() ?? 10;
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(seconds) };
        var name = item["metadata"]?["name"]?.GetValue<string>() ?? string.Empty;
        var review = new JsonObject
        {
            ["apiVersion"] = "admission.k8s.io/v1",
            ["kind"] = "AdmissionReview",
            ["request"] = new JsonObject
            {
                ["uid"] = uid,
                ["kind"] = new JsonObject { ["group"] = type.Group, ["version"] = type.Version, ["kind"] = type.Kind },
                ["resource"] = new JsonObject { ["group"] = type.Group, ["version"] = type.Version, ["resource"] = type.Plural },
                ["requestKind"] = new JsonObject { ["group"] = type.Group, ["version"] = type.Version, ["kind"] = type.Kind },
                ["requestResource"] = new JsonObject { ["group"] = type.Group, ["version"] = type.Version, ["resource"] = type.Plural },
                ["name"] = name,
                ["namespace"] = ns,
                ["operation"] = "CREATE",
                ["userInfo"] = new JsonObject { ["username"] = "system:serviceaccount:kube-system:replicaset-controller", ["groups"] = new JsonArray("system:serviceaccounts", "system:authenticated") },
                ["object"] = item.DeepClone(),
                ["oldObject"] = null,
                ["dryRun"] = false,
                ["options"] = new JsonObject { ["apiVersion"] = "meta.k8s.io/v1", ["kind"] = "CreateOptions" },
            },
        };
        using var content = new StringContent(review.ToJsonString(), Encoding.UTF8, "application/json");
        using var answer = await http.PostAsync(target, content, cancellationToken).ConfigureAwait(false);
        if (!answer.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"the webhook answered HTTP {(int)answer.StatusCode}");
        }

        return await answer.Content.ReadFromJsonAsync<JsonObject>(cancellationToken).ConfigureAwait(false);
    }

    private static bool Trusted(X509Certificate2Collection roots, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || roots.Count == 0 || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }
}
