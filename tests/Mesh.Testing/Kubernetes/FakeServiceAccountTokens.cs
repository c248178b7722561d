using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mesh.Testing.Kubernetes;

/// <summary>
/// The API server's ServiceAccount token issuer and its TokenReview API, for tests: <see cref="Issue"/> mints a JWT with
/// the claims of a projected token (audiences, expiry, <c>kubernetes.io</c> namespace, service account and bound pod),
/// signed with a key only this object knows; <see cref="Review"/> answers a TokenReview as the API server does —
/// signature, expiry, audience intersection, the bound pod still existing with that uid — with the user
/// <c>system:serviceaccount:NS:SA</c> and the pod in <c>extra</c>. <see cref="Revoke"/> makes a token fail review.
/// </summary>
public sealed class FakeServiceAccountTokens
{
    /// <summary>The issuer claim, as a cluster's default.</summary>
    public const string Issuer = "https://kubernetes.default.svc.cluster.local";

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly FakeResourceStore _store;
    private readonly ConcurrentDictionary<string, bool> _revoked = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Token, bool Authenticated)> _reviewed = new();

    private FakeServiceAccountTokens(FakeResourceStore store) => _store = store;

    /// <summary>Every token reviewed so far, with the answer.</summary>
    public IReadOnlyList<(string Token, bool Authenticated)> Reviewed => [.. _reviewed];

    /// <summary>Serves TokenReviews on <paramref name="server"/> with a new issuer.</summary>
    public static FakeServiceAccountTokens Install(FakeKubernetesApiServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var tokens = new FakeServiceAccountTokens(server.Store);
        server.SetCreateHandler(server.TypeOf("authentication.k8s.io/v1", "TokenReview"), tokens.Review);
        return tokens;
    }

    /// <summary>A projected ServiceAccount token; <paramref name="pod"/> (name, uid) binds it to a pod.</summary>
    public string Issue(string @namespace, string serviceAccount, string audience, TimeSpan lifetime, (string Name, string Uid)? pod = null, DateTimeOffset? now = null)
    {
        var issued = now ?? DateTimeOffset.UtcNow;
        var kubernetes = new JsonObject
        {
            ["namespace"] = @namespace,
            ["serviceaccount"] = new JsonObject { ["name"] = serviceAccount, ["uid"] = Guid.NewGuid().ToString() },
        };
        if (pod is { } bound)
        {
            kubernetes["pod"] = new JsonObject { ["name"] = bound.Name, ["uid"] = bound.Uid };
        }

        var payload = new JsonObject
        {
            ["aud"] = new JsonArray(audience),
            ["exp"] = (issued + lifetime).ToUnixTimeSeconds(),
            ["iat"] = issued.ToUnixTimeSeconds(),
            ["nbf"] = issued.ToUnixTimeSeconds(),
            ["iss"] = Issuer,
            ["sub"] = $"system:serviceaccount:{@namespace}:{serviceAccount}",
            ["jti"] = Guid.NewGuid().ToString(),
            ["kubernetes.io"] = kubernetes,
        };
        var header = Base64Url.EncodeToString("{\"alg\":\"HS256\",\"kid\":\"fake\"}"u8);
        var body = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        return header + "." + body + "." + Base64Url.EncodeToString(HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(header + "." + body)));
    }

    /// <summary>Makes <paramref name="token"/> fail review from now on (as a deleted ServiceAccount's tokens do).</summary>
    public void Revoke(string token) => _revoked[token] = true;

    /// <summary>Answers a TokenReview.</summary>
    public JsonObject Review(JsonObject review)
    {
        ArgumentNullException.ThrowIfNull(review);
        var token = review["spec"]?["token"]?.GetValue<string>() ?? string.Empty;
        var wanted = review["spec"]?["audiences"] is JsonArray { Count: > 0 } list ? list.Select(a => a!.GetValue<string>()).ToList() : [Issuer];
        var status = Check(token, wanted);
        _reviewed.Enqueue((token, status["authenticated"]!.GetValue<bool>()));
        return new JsonObject
        {
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["kind"] = "TokenReview",
            ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["spec"] = review["spec"]?.DeepClone(),
            ["status"] = status,
        };
    }

    private JsonObject Check(string token, List<string> wanted)
    {
        static JsonObject Fail(string error) => new() { ["authenticated"] = false, ["user"] = new JsonObject(), ["error"] = error };
        var parts = token.Split('.');
        if (parts.Length != 3 || _revoked.ContainsKey(token))
        {
            return Fail(parts.Length != 3 ? "token is not a JWT" : "token has been invalidated");
        }

        byte[] signature;
        try
        {
            signature = Base64Url.DecodeFromChars(parts[2]);
        }
        catch (FormatException)
        {
            return Fail("invalid bearer token");
        }

        if (!CryptographicOperations.FixedTimeEquals(signature, HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]))))
        {
            return Fail("invalid bearer token, square/go-jose: error in cryptographic primitive");
        }

        using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        var root = document.RootElement;
        if (DateTimeOffset.UtcNow.ToUnixTimeSeconds() >= root.GetProperty("exp").GetInt64())
        {
            return Fail("invalid bearer token, service account token has expired");
        }

        var audiences = root.GetProperty("aud").EnumerateArray().Select(a => a.GetString()!).Intersect(wanted, StringComparer.Ordinal).ToList();
        if (audiences.Count == 0)
        {
            return Fail("invalid bearer token, token audiences don't match");
        }

        var kubernetes = root.GetProperty("kubernetes.io");
        var ns = kubernetes.GetProperty("namespace").GetString()!;
        var sa = kubernetes.GetProperty("serviceaccount").GetProperty("name").GetString()!;
        var extra = new JsonObject();
        if (kubernetes.TryGetProperty("pod", out var pod))
        {
            var podName = pod.GetProperty("name").GetString()!;
            var podUid = pod.GetProperty("uid").GetString()!;
            var stored = _store.Get(_store.TypeOf("v1", "Pod"), ns, podName);
            if (stored?["metadata"]?["uid"]?.GetValue<string>() != podUid)
            {
                return Fail($"invalid bearer token, pod \"{podName}\" (uid {podUid}) not found");
            }

            extra["authentication.kubernetes.io/pod-name"] = new JsonArray(podName);
            extra["authentication.kubernetes.io/pod-uid"] = new JsonArray(podUid);
        }

        return new JsonObject
        {
            ["authenticated"] = true,
            ["user"] = new JsonObject
            {
                ["username"] = $"system:serviceaccount:{ns}:{sa}",
                ["uid"] = kubernetes.GetProperty("serviceaccount").GetProperty("uid").GetString(),
                ["groups"] = new JsonArray("system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"),
                ["extra"] = extra,
            },
            ["audiences"] = new JsonArray([.. audiences.Select(a => (JsonNode)a)]),
        };
    }
}
