using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.Injection;

/// <summary>
/// Decides whether and how a pod is injected, as Istio's webhook does once the API server has selected the pod (namespace
/// label <c>istio-injection=enabled</c> / <c>mesh-injection=enabled</c> / <c>istio.io/rev</c>, or the pod label
/// <c>sidecar.istio.io/inject=true</c> / <c>mesh.io/inject=true</c>, in the MutatingWebhookConfiguration's selectors):
/// never in an excluded namespace, never a hostNetwork pod, never twice, never a pod that opts out or belongs to another
/// revision. The template comes from <c>inject.mesh.io/template</c>, else <c>inject.istio.io/templates</c>, else the
/// namespace's <c>mesh.io/inject-template</c>, else <see cref="InjectionOptions.DefaultTemplate"/>.
/// </summary>
internal sealed class PodInjector(InjectionContext context, Func<string, IReadOnlyDictionary<string, string>?>? namespaceLabels = null)
{
    public InjectionContext Context => context;

    public InjectionOutcome Inject(JsonObject pod, string @namespace)
    {
        var options = context.Options;
        if (options.ExcludedNamespaces.Contains(@namespace, StringComparer.Ordinal) || @namespace == options.ServiceNamespace)
        {
            return InjectionOutcome.Skipped($"namespace {@namespace} is never injected");
        }

        if (pod["spec"] is not JsonObject spec || spec["containers"] is not JsonArray { Count: > 0 } containers)
        {
            return InjectionOutcome.Refused("the pod has no spec.containers");
        }

        if (spec["hostNetwork"] is JsonValue hostNetwork && hostNetwork.TryGetValue<bool>(out var onHost) && onHost)
        {
            return InjectionOutcome.Skipped("the pod uses the host's network (spec.hostNetwork)");
        }

        var labels = pod["metadata"]?["labels"] as JsonObject;
        var annotations = pod["metadata"]?["annotations"] as JsonObject;
        if (annotations?.ContainsKey(InjectionTemplates.StatusAnnotation) == true
            || containers.Any(c => c?["name"]?.GetValue<string>() == SidecarTemplate.ProxyContainer))
        {
            return InjectionOutcome.Skipped("the pod is already injected");
        }

        foreach (var key in (ReadOnlySpan<string>)[InjectionTemplates.IstioInjectLabel, InjectionTemplates.MeshInjectLabel])
        {
            if (Text(labels, key) is "false" || Text(annotations, key) is "false")
            {
                return InjectionOutcome.Skipped($"the pod opts out ({key}=false)");
            }
        }

        if (Text(labels, InjectionTemplates.RevisionLabel) is { } revision && revision != options.EffectiveRevision)
        {
            return InjectionOutcome.Skipped($"the pod belongs to revision {revision}, this control plane serves {options.EffectiveRevision}");
        }

        var template = ChooseTemplate(annotations, @namespace, out var refusal);
        if (template is null)
        {
            return InjectionOutcome.Refused(refusal!);
        }

        var workload = PodWorkload.Read(pod, @namespace);
        var injected = (JsonObject)pod.DeepClone();
        if (template == InjectionTemplates.Proxyless)
        {
            ProxylessTemplate.Apply(injected, workload, context);
        }
        else
        {
            SidecarTemplate.Apply(injected, workload, context);
        }

        return InjectionOutcome.Injected(template, injected);
    }

    private string? ChooseTemplate(JsonObject? annotations, string @namespace, out string? refusal)
    {
        refusal = null;
        string? source = null, value = null;
        if (Text(annotations, InjectionTemplates.MeshTemplateAnnotation) is { } mesh)
        {
            (source, value) = (InjectionTemplates.MeshTemplateAnnotation, mesh);
        }
        else if (Text(annotations, InjectionTemplates.IstioTemplatesAnnotation) is { } istio)
        {
            (source, value) = (InjectionTemplates.IstioTemplatesAnnotation, istio);
        }
        else if (namespaceLabels?.Invoke(@namespace) is { } nsLabels && nsLabels.TryGetValue(InjectionTemplates.NamespaceTemplateLabel, out var nsTemplate))
        {
            (source, value) = ($"namespace {@namespace} label {InjectionTemplates.NamespaceTemplateLabel}", nsTemplate);
        }

        if (value is null)
        {
            return InjectionTemplates.Normalize(context.Options.DefaultTemplate) ?? InjectionTemplates.Sidecar;
        }

        string? chosen = null;
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var normalized = InjectionTemplates.Normalize(part);
            if (normalized is null || (chosen is not null && chosen != normalized))
            {
                refusal = normalized is null
                    ? $"{source}: unknown injection template '{part}' (Mesh has '{InjectionTemplates.Proxyless}' (also 'grpc-agent', 'grpc-simple') and '{InjectionTemplates.Sidecar}')"
                    : $"{source}: '{value}' names both the proxyless and the sidecar template; choose one";
                return null;
            }

            chosen = normalized;
        }

        if (chosen is null)
        {
            refusal = $"{source} is empty";
        }

        return chosen;
    }

    private static string? Text(JsonObject? map, string key) =>
        map?[key] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
