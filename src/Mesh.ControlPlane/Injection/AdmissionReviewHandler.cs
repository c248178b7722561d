using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Injection;

/// <summary>
/// One <c>admission.k8s.io/v1</c> AdmissionReview in, one out: the pod injected as a base64 JSON Patch
/// (<c>patchType: JSONPatch</c>), allowed unchanged when it is not to be injected, or refused with a status that says
/// why. A request that cannot be read (not JSON, another apiVersion or kind, no uid, not a Pod creation, no object) is
/// refused with code 400 and a message naming what is wrong — never allowed unpatched, so a <c>failurePolicy: Fail</c>
/// webhook never lets a pod that should have been injected through without its mesh configuration.
/// </summary>
internal sealed partial class AdmissionReviewHandler(PodInjector injector, ILogger logger)
{
    public const string ApiVersion = "admission.k8s.io/v1";

    /// <summary>Reviews <paramref name="body"/>; always returns an AdmissionReview.</summary>
    public JsonObject Review(ReadOnlySpan<byte> body)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body);
        }
        catch (JsonException ex)
        {
            return Refuse(null, "the request body is not JSON: " + ex.Message);
        }

        if (node is not JsonObject review)
        {
            return Refuse(null, "the request body is not an AdmissionReview object");
        }

        var request = review["request"] as JsonObject;
        var uid = Text(request, "uid");
        var apiVersion = Text(review, "apiVersion");
        if (apiVersion != ApiVersion || Text(review, "kind") != "AdmissionReview")
        {
            return Refuse(uid, $"expected apiVersion {ApiVersion}, kind AdmissionReview; got apiVersion '{apiVersion}', kind '{Text(review, "kind")}' " +
                "(set admissionReviewVersions: [v1] in the MutatingWebhookConfiguration)");
        }

        if (request is null)
        {
            return Refuse(null, "the AdmissionReview has no request");
        }

        if (string.IsNullOrEmpty(uid))
        {
            return Refuse(null, "request.uid is missing");
        }

        var kind = request["kind"] as JsonObject;
        var group = Text(kind, "group") ?? string.Empty;
        var version = Text(kind, "version");
        var kindName = Text(kind, "kind");
        if (group.Length != 0 || version != "v1" || kindName != "Pod" || (Text(request["resource"] as JsonObject, "resource") is { } resource && resource != "pods"))
        {
            return Refuse(uid, $"request.kind is {(group.Length == 0 ? string.Empty : group + "/")}{version} {kindName}: the injection webhook admits v1 Pods only");
        }

        var operation = Text(request, "operation");
        if (operation != "CREATE")
        {
            return Refuse(uid, $"request.operation is '{operation}': the injection webhook handles CREATE only");
        }

        if (Text(request, "subResource") is { Length: > 0 } subresource)
        {
            return Refuse(uid, $"request.subResource is '{subresource}': the injection webhook handles pods, not their subresources");
        }

        if (request["object"] is not JsonObject pod)
        {
            return Refuse(uid, "request.object (the pod) is missing or not an object");
        }

        var @namespace = Text(request, "namespace") is { Length: > 0 } ns ? ns : Text(pod["metadata"] as JsonObject, "namespace") ?? "default";
        InjectionOutcome outcome;
        try
        {
            outcome = injector.Inject(pod, @namespace);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException or JsonException or KeyNotFoundException)
        {
            // A field of an unexpected type (a label that is a number, a container that is a string): the pod is malformed.
            return Refuse(uid, "the pod cannot be read: " + ex.Message);
        }

        var name = PodName(pod);
        switch (outcome.Result)
        {
            case InjectionOutcome.Kind.Skipped:
                Log.Skipped(logger, @namespace, name, outcome.Reason);
                return Response(uid, allowed: true);
            case InjectionOutcome.Kind.Refused:
                Log.Refused(logger, @namespace, name, outcome.Reason);
                return Refuse(uid, outcome.Reason);
            default:
                var patch = JsonPatchBuilder.Diff(pod, outcome.Pod!);
                Log.Injected(logger, @namespace, name, outcome.Template!, patch.Count);
                var response = Response(uid, allowed: true);
                var inner = (JsonObject)response["response"]!;
                inner["patchType"] = "JSONPatch";
                inner["patch"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(patch.ToJsonString()));
                return response;
        }
    }

    private static string PodName(JsonObject pod) =>
        Text(pod["metadata"] as JsonObject, "name") is { Length: > 0 } name ? name
        : (Text(pod["metadata"] as JsonObject, "generateName") ?? string.Empty) + "*";

    private static JsonObject Response(string? uid, bool allowed) => new()
    {
        ["apiVersion"] = ApiVersion,
        ["kind"] = "AdmissionReview",
        ["response"] = new JsonObject { ["uid"] = uid ?? string.Empty, ["allowed"] = allowed },
    };

    /// <summary>A refusal with code 400 and <paramref name="message"/>.</summary>
    public JsonObject Refuse(string? uid, string message)
    {
        Log.BadRequest(logger, uid ?? "(none)", message);
        var review = Response(uid, allowed: false);
        ((JsonObject)review["response"]!)["status"] = new JsonObject
        {
            ["code"] = 400,
            ["reason"] = "BadRequest",
            ["message"] = "mesh injection: " + message,
        };
        return review;
    }

    private static string? Text(JsonObject? parent, string key) =>
        parent?[key] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Injected {Namespace}/{Pod} with the {Template} template ({Operations} patch operations).")]
        public static partial void Injected(ILogger logger, string @namespace, string pod, string template, int operations);

        [LoggerMessage(2, LogLevel.Debug, "Not injecting {Namespace}/{Pod}: {Reason}.")]
        public static partial void Skipped(ILogger logger, string @namespace, string pod, string reason);

        [LoggerMessage(3, LogLevel.Warning, "Refused to inject {Namespace}/{Pod}: {Reason}.")]
        public static partial void Refused(ILogger logger, string @namespace, string pod, string reason);

        [LoggerMessage(4, LogLevel.Warning, "Refused an admission request (uid {Uid}): {Message}.")]
        public static partial void BadRequest(ILogger logger, string uid, string message);
    }
}
