using System.Collections.Immutable;
using System.Globalization;
using Mesh.ControlPlane.Configuration;

namespace Mesh.ControlPlane.Model;

public sealed partial class MeshModelBuilder
{
    private const string TelemetryOpenTelemetry = "Mesh workloads export metrics, spans and logs through their own OpenTelemetry setup (AddMeshInstrumentation)";

    /// <summary>
    /// The Telemetry resources: their random trace sampling is applied (per workload, client and server side); every
    /// other field that is set is reported as not applied, with the field, so nothing is dropped silently.
    /// </summary>
    private ImmutableArray<TelemetryPolicy> BuildTelemetries(List<Parsed<TelemetrySpec>> parsed)
    {
        var result = ImmutableArray.CreateBuilder<TelemetryPolicy>();
        foreach (var (resource, spec) in parsed)
        {
            var errors = _errors.Count;
            ImmutableDictionary<string, string>? selector = null;
            if (spec.Selector?.MatchLabels is { Count: > 0 } labels)
            {
                selector = labels.ToImmutableDictionary(StringComparer.Ordinal);
            }

            if (spec.TargetRef is not null || spec.TargetRefs is not null)
            {
                NotAppliedField(resource, spec.TargetRef is not null ? "spec.targetRef" : "spec.targetRefs", "Telemetry bound to a gateway (targetRefs) applies to gateway proxies, which proxyless workloads are not");
                continue;
            }

            if (spec.Metrics is not null)
            {
                NotAppliedField(resource, "spec.metrics", "metric overrides and providers: " + TelemetryOpenTelemetry + "; Istio's standard metrics are always emitted");
            }

            if (spec.AccessLogging is not null)
            {
                NotAppliedField(resource, "spec.accessLogging", "access logs: " + TelemetryOpenTelemetry);
            }

            double? client = null, server = null;
            var tracing = spec.Tracing ?? [];
            for (var i = 0; i < tracing.Count; i++)
            {
                var field = $"spec.tracing[{i}]";
                if (tracing[i] is not { } entry)
                {
                    continue;
                }

                foreach (var (name, value) in new (string, System.Text.Json.JsonElement?)[]
                {
                    ("providers", entry.Providers), ("disableSpanReporting", entry.DisableSpanReporting), ("customTags", entry.CustomTags),
                    ("useRequestIdForTraceSampling", entry.UseRequestIdForTraceSampling), ("enableIstioTags", entry.EnableIstioTags),
                })
                {
                    if (value is not null)
                    {
                        NotAppliedField(resource, field + "." + name, "only randomSamplingPercentage (and match.mode) of tracing is applied; " + TelemetryOpenTelemetry);
                    }
                }

                var (appliesToClient, appliesToServer) = entry.Match?.Mode switch
                {
                    null or "" or "CLIENT_AND_SERVER" => (true, true),
                    "CLIENT" => (true, false),
                    "SERVER" => (false, true),
                    var other => Invalid(other, field + ".match.mode"),
                };
                if (entry.RandomSamplingPercentage is not { } percent)
                {
                    continue;
                }

                if (percent is < 0 or > 100 || double.IsNaN(percent))
                {
                    Error(resource, field + ".randomSamplingPercentage", $"{percent.ToString(CultureInfo.InvariantCulture)} is not a percentage from 0 to 100" + SchemaError);
                    continue;
                }

                // Istio reads the first entry that sets a field for each mode.
                client ??= appliesToClient ? percent : null;
                server ??= appliesToServer ? percent : null;
            }

            if (_errors.Count == errors && (client is not null || server is not null))
            {
                result.Add(new TelemetryPolicy(resource.Namespace, resource.Name, selector, client, server));
            }

            (bool, bool) Invalid(string mode, string field)
            {
                Error(resource, field, $"'{mode}' is not one of CLIENT, SERVER, CLIENT_AND_SERVER" + SchemaError);
                return (false, false);
            }
        }

        return result.ToImmutable();
    }

    private void NotAppliedField(ConfigResource resource, string field, string reason)
    {
        var notice = new ConfigError(resource.Origin, resource.DisplayName, field, NotAppliedPrefix + reason);
        _warnings.Add(notice);
        _notices.Add(notice);
    }
}
