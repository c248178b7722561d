using System.Text.Json.Nodes;

namespace Mesh.Testing.Kubernetes;

/// <summary>One container of a pod made ready to run as a local process: its environment, arguments and where its volumes are.</summary>
/// <param name="Name">The container's name.</param>
/// <param name="Environment">The environment, with downward-API values resolved and <c>$(VAR)</c> references expanded as the kubelet does.</param>
/// <param name="Arguments">The container's args.</param>
/// <param name="Mounts">Each mount path → the local directory standing in for it.</param>
public sealed record FakeContainer(string Name, IReadOnlyDictionary<string, string> Environment, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Mounts);

/// <summary>
/// What a kubelet does for a pod before its containers start, on this machine: each volume becomes a local directory —
/// projected ServiceAccount tokens issued by <see cref="FakeServiceAccountTokens"/> (audience, lifetime, bound to the pod),
/// ConfigMaps written from the API server's store, emptyDirs empty — and each container's env is resolved (downward API
/// <c>metadata.name</c>, <c>metadata.namespace</c>, <c>spec.serviceAccountName</c>, <c>status.podIP</c>, <c>spec.nodeName</c>,
/// <c>status.hostIP</c>; literal values with <c>$(VAR)</c> expanded from the variables before them). Paths inside the
/// container are not rewritten here: <see cref="FakeContainer.Mounts"/> says where each mount path is.
/// </summary>
public sealed class FakeKubelet(FakeResourceStore store, FakeServiceAccountTokens tokens, string root, string podIp = "127.0.0.1")
{
    /// <summary>Prepares <paramref name="pod"/> (as stored, with its uid); returns its containers.</summary>
    public IReadOnlyList<FakeContainer> Prepare(JsonObject pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        var metadata = (JsonObject)pod["metadata"]!;
        var name = metadata["name"]!.GetValue<string>();
        var ns = metadata["namespace"]!.GetValue<string>();
        var uid = metadata["uid"]!.GetValue<string>();
        var spec = (JsonObject)pod["spec"]!;
        var serviceAccount = spec["serviceAccountName"]?.GetValue<string>() ?? "default";
        var podDirectory = Path.Combine(root, ns + "_" + name);
        var volumes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var volume in (spec["volumes"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var volumeName = volume["name"]!.GetValue<string>();
            var directory = Path.Combine(podDirectory, "volumes", volumeName);
            Directory.CreateDirectory(directory);
            volumes[volumeName] = directory;
            if (volume["projected"]?["sources"] is JsonArray sources)
            {
                foreach (var source in sources.OfType<JsonObject>())
                {
                    if (source["serviceAccountToken"] is JsonObject token)
                    {
                        var audience = token["audience"]?.GetValue<string>() ?? FakeServiceAccountTokens.Issuer;
                        var seconds = token["expirationSeconds"]?.GetValue<long>() ?? 3600;
                        File.WriteAllText(Path.Combine(directory, token["path"]!.GetValue<string>()),
                            tokens.Issue(ns, serviceAccount, audience, TimeSpan.FromSeconds(seconds), (name, uid)));
                    }
                }
            }
            else if (volume["configMap"] is JsonObject configMap)
            {
                var mapName = configMap["name"]!.GetValue<string>();
                var stored = store.Get(store.TypeOf("v1", "ConfigMap"), ns, mapName)
                    ?? throw new InvalidOperationException($"pod {ns}/{name}: configmap \"{mapName}\" not found (the kubelet would not start the pod)");
                foreach (var (key, value) in (stored["data"] as JsonObject ?? []))
                {
                    File.WriteAllText(Path.Combine(directory, key), value!.GetValue<string>());
                }
            }
        }

        var containers = new List<FakeContainer>();
        foreach (var container in (spec["containers"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var env = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in (container["env"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var envName = item["name"]!.GetValue<string>();
                if (item["valueFrom"]?["fieldRef"]?["fieldPath"]?.GetValue<string>() is { } field)
                {
                    env[envName] = field switch
                    {
                        "metadata.name" => name,
                        "metadata.namespace" => ns,
                        "metadata.uid" => uid,
                        "spec.serviceAccountName" => serviceAccount,
                        "status.podIP" or "status.hostIP" => podIp,
                        "spec.nodeName" => "fake-node",
                        _ => throw new InvalidOperationException($"the fake kubelet does not resolve fieldRef {field}"),
                    };
                }
                else
                {
                    env[envName] = Expand(item["value"]?.GetValue<string>() ?? string.Empty, env);
                }
            }

            var mounts = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var mount in (container["volumeMounts"] as JsonArray ?? []).OfType<JsonObject>())
            {
                mounts[mount["mountPath"]!.GetValue<string>()] = volumes[mount["name"]!.GetValue<string>()];
            }

            var args = (container["args"] as JsonArray ?? []).Select(a => Expand(a!.GetValue<string>(), env)).ToList();
            containers.Add(new FakeContainer(container["name"]!.GetValue<string>(), env, args, mounts));
        }

        return containers;
    }

    /// <summary>The kubelet's <c>$(VAR)</c> expansion: defined variables are replaced, <c>$$</c> is a literal <c>$</c>, others stay.</summary>
    public static string Expand(string value, IReadOnlyDictionary<string, string> variables)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(variables);
        var result = new System.Text.StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '$' && i + 1 < value.Length && value[i + 1] == '$')
            {
                result.Append('$');
                i++;
            }
            else if (value[i] == '$' && i + 1 < value.Length && value[i + 1] == '(' && Close(value, i) is > 0 and var end
                && variables.TryGetValue(value[(i + 2)..end], out var replacement))
            {
                result.Append(replacement);
                i = end;
            }
            else
            {
                result.Append(value[i]);
            }
        }

        return result.ToString();
    }

    private static int Close(string value, int dollar) => value.IndexOf(')', dollar + 2);
}
