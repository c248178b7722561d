using System.Buffers.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mesh.Xds;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Security;

/// <summary>
/// Checks the bearer token a workload proves its identity with (<c>authorization: Bearer …</c>, on the CA call and on
/// ADS over TLS): a Mesh join token (checked by the CA's key), or a projected Kubernetes ServiceAccount token (a JWT),
/// as istio-proxy's agent and the injected proxyless pods send. A ServiceAccount token must be of the configured
/// audience, not expired and bound to a pod; the TokenReview API then has the last word (signature, expiry, the pod and
/// service account still existing), and the identity is the namespace and service account the API server names —
/// never what the caller claims.
/// </summary>
internal sealed partial class ServiceAccountTokenValidator(
    CertificateAuthority authority, ITokenReview? review, string audience, TimeProvider time, ILogger<ServiceAccountTokenValidator> logger)
{
    /// <summary>The audience a ServiceAccount token must carry.</summary>
    public string Audience => audience;

    /// <summary>Returns the identity <paramref name="token"/> proves, or null with the reason (safe to return to the caller).</summary>
    public async Task<(SpiffeId? Identity, string Error)> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (token.Count(c => c == '.') != 2)
        {
            var fromJoinToken = authority.ValidateJoinToken(token, out var joinError);
            return (fromJoinToken, joinError);
        }

        if (!TryReadClaims(token, out var claims, out var error))
        {
            return (null, error);
        }

        var now = time.GetUtcNow();
        if (claims.Expires is { } expires && now >= expires)
        {
            return (null, $"the ServiceAccount token expired at {expires:u}");
        }

        if (!claims.Audiences.Contains(audience, StringComparer.Ordinal))
        {
            return (null, $"the ServiceAccount token is for audience {(claims.Audiences.Count == 0 ? "(none)" : string.Join(", ", claims.Audiences.Select(a => "'" + a + "'")))}, not '{audience}' (project the token with audience {audience})");
        }

        if (claims.PodName is null)
        {
            return (null, "the ServiceAccount token is not bound to a pod (use a projected token, as the injected pods have)");
        }

        if (review is null)
        {
            return (null, "ServiceAccount tokens are accepted only when the control plane reads a Kubernetes cluster (--kubernetes); use a join token");
        }

        JsonObject answer;
        try
        {
            answer = await review.ReviewAsync(
                new JsonObject
                {
                    ["apiVersion"] = "authentication.k8s.io/v1",
                    ["kind"] = "TokenReview",
                    ["spec"] = new JsonObject { ["token"] = token, ["audiences"] = new JsonArray(audience) },
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException or k8s.Autorest.HttpOperationException or TaskCanceledException)
        {
            Log.ReviewFailed(logger, ex.Message);
            return (null, "the TokenReview could not be made (the API server did not answer); try again");
        }

        var status = answer["status"] as JsonObject;
        if (status?["authenticated"] is not JsonValue authenticated || !authenticated.TryGetValue<bool>(out var ok) || !ok)
        {
            var reason = status?["error"] is JsonValue e && e.TryGetValue<string>(out var text) && text.Length > 0 ? text : "not authenticated";
            return (null, "the TokenReview rejected the ServiceAccount token: " + reason);
        }

        if (status["audiences"] is JsonArray confirmed && !confirmed.Any(a => a?.GetValue<string>() == audience))
        {
            return (null, $"the TokenReview did not confirm the audience '{audience}'");
        }

        var username = status["user"]?["username"]?.GetValue<string>() ?? string.Empty;
        var parts = username.Split(':');
        if (parts.Length != 4 || parts[0] != "system" || parts[1] != "serviceaccount")
        {
            return (null, $"the TokenReview names '{username}', not a ServiceAccount (system:serviceaccount:NAMESPACE:NAME)");
        }

        var boundPod = Extra(status, "authentication.kubernetes.io/pod-name");
        var boundUid = Extra(status, "authentication.kubernetes.io/pod-uid");
        if (boundPod is null || boundPod != claims.PodName || (claims.PodUid is not null && boundUid is not null && boundUid != claims.PodUid))
        {
            return (null, $"the TokenReview does not confirm the token's pod binding ({claims.PodName})");
        }

        try
        {
            return (new SpiffeId(authority.TrustDomain, parts[2], parts[3]), string.Empty);
        }
        catch (ArgumentException)
        {
            return (null, $"the TokenReview names an invalid identity '{username}'");
        }
    }

    private static string? Extra(JsonObject status, string key) =>
        status["user"]?["extra"]?[key] is JsonArray { Count: > 0 } values && values[0] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private sealed record Claims(List<string> Audiences, DateTimeOffset? Expires, string? PodName, string? PodUid);

    /// <summary>The JWT's claims, read without checking its signature (the TokenReview does that).</summary>
    private static bool TryReadClaims(string token, out Claims claims, out string error)
    {
        claims = new Claims([], null, null, null);
        var first = token.IndexOf('.', StringComparison.Ordinal);
        var second = token.IndexOf('.', first + 1);
        try
        {
            using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(token.AsSpan(first + 1, second - first - 1)));
            var root = document.RootElement;
            var audiences = new List<string>();
            if (root.TryGetProperty("aud", out var aud))
            {
                if (aud.ValueKind == JsonValueKind.String)
                {
                    audiences.Add(aud.GetString()!);
                }
                else if (aud.ValueKind == JsonValueKind.Array)
                {
                    audiences.AddRange(aud.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!));
                }
            }

            DateTimeOffset? expires = root.TryGetProperty("exp", out var exp) && exp.ValueKind == JsonValueKind.Number
                ? DateTimeOffset.FromUnixTimeSeconds((long)exp.GetDouble())
                : null;
            string? podName = null, podUid = null;
            if (root.TryGetProperty("kubernetes.io", out var kubernetes) && kubernetes.ValueKind == JsonValueKind.Object
                && kubernetes.TryGetProperty("pod", out var pod) && pod.ValueKind == JsonValueKind.Object)
            {
                podName = pod.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
                podUid = pod.TryGetProperty("uid", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
            }

            claims = new Claims(audiences, expires, podName, podUid);
            error = string.Empty;
            return true;
        }
        catch (Exception ex) when (ex is FormatException or JsonException or ArgumentException or InvalidOperationException)
        {
            error = "the token is neither a Mesh join token nor a readable JWT";
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "A TokenReview failed: {Reason}")]
        public static partial void ReviewFailed(ILogger logger, string reason);
    }
}
