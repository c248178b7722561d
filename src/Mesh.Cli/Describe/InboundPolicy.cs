using System.Text.Json.Nodes;
using Mesh.Cli.Output;

namespace Mesh.Cli.Describe;

/// <summary>What a workload's inbound listeners enforce: the mTLS mode their filter chains imply, and the RBAC policies.</summary>
internal sealed record InboundPolicy(string Listener, string MtlsMode, IReadOnlyList<string> AuthorizationRules)
{
    /// <summary>Reads every inbound (non-API) listener of <paramref name="listeners"/>.</summary>
    public static IReadOnlyList<InboundPolicy> Read(IEnumerable<JsonNode?> listeners)
    {
        var result = new List<InboundPolicy>();
        foreach (var listener in listeners)
        {
            if (listener is null || Json.At(listener, "apiListener") is not null)
            {
                continue;
            }

            var chains = Json.Items(listener, "filterChains").ToList();
            var tls = chains.Count(c => Json.At(c, "transportSocket") is not null);
            var mode = chains.Count == 0 ? "-" : tls == chains.Count ? "STRICT" : tls == 0 ? "DISABLE (plaintext)" : "PERMISSIVE";
            var rules = new List<string>();
            foreach (var chain in chains.Take(1))
            {
                foreach (var filter in Json.Items(chain, "filters"))
                {
                    foreach (var http in Json.Items(filter, "typedConfig", "httpFilters"))
                    {
                        if (Json.At(http, "typedConfig", "rules") is { } rbac)
                        {
                            var action = Json.Str(rbac, "action") ?? "ALLOW";
                            var names = Json.Properties(rbac, "policies").Select(p => p.Key).ToList();
                            rules.Add(names.Count == 0 ? $"{action}: no policy (nothing matches)" : $"{action}: {string.Join(", ", names)}");
                        }
                    }
                }
            }

            result.Add(new InboundPolicy(Json.Str(listener, "name") ?? "-", mode, rules));
        }

        return result;
    }
}
