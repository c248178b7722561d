using System.Collections.Immutable;
using System.Globalization;
using Mesh.ControlPlane.Configuration;

namespace Mesh.ControlPlane.Model;

public sealed partial class MeshModelBuilder
{
    private ImmutableArray<PeerAuthenticationPolicy> BuildPeerAuthentications(List<Parsed<PeerAuthenticationSpec>> parsed)
    {
        var result = ImmutableArray.CreateBuilder<PeerAuthenticationPolicy>();
        foreach (var (resource, spec) in parsed)
        {
            var errors = _errors.Count;
            var mode = ParseMtlsMode(resource, "spec.mtls.mode", spec.Mtls?.Mode);

            ImmutableDictionary<string, string>? selector = null;
            if (spec.Selector is { } chosen)
            {
                if (chosen.Labels is not null)
                {
                    Error(resource, "spec.selector.labels", "unknown field; PeerAuthentication selects with matchLabels");
                }

                selector = (chosen.MatchLabels ?? []).ToImmutableDictionary(StringComparer.Ordinal);
                if (selector.IsEmpty)
                {
                    selector = null;
                }
            }

            var ports = ImmutableDictionary.CreateBuilder<int, MtlsMode>();
            foreach (var (key, value) in spec.PortLevelMtls ?? [])
            {
                var field = $"spec.portLevelMtls[{key}]";
                if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
                {
                    Error(resource, field, "the key must be a port number between 1 and 65535");
                    continue;
                }

                ports[port] = ParseMtlsMode(resource, field + ".mode", value?.Mode);
            }

            // Istio's rule: port-level modes need a workload selector (ports mean nothing namespace-wide).
            if (ports.Count > 0 && selector is null)
            {
                Error(resource, "spec.portLevelMtls", "needs spec.selector.matchLabels: port-level modes apply to selected workloads only");
            }

            if (_errors.Count == errors)
            {
                result.Add(new PeerAuthenticationPolicy(resource.Namespace, resource.Name, selector, mode, ports.ToImmutable(), resource.DisplayName));
            }
        }

        return result.ToImmutable();
    }

    private MtlsMode ParseMtlsMode(ConfigResource resource, string field, string? text)
    {
        switch (text)
        {
            case null or "" or "UNSET":
                return MtlsMode.Unset;
            case "DISABLE":
                return MtlsMode.Disable;
            case "PERMISSIVE":
                return MtlsMode.Permissive;
            case "STRICT":
                return MtlsMode.Strict;
            default:
                Error(resource, field, $"'{text}' is not one of UNSET, DISABLE, PERMISSIVE, STRICT");
                return MtlsMode.Unset;
        }
    }
}
