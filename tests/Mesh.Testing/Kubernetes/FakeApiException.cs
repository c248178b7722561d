using System.Text.Json.Nodes;

namespace Mesh.Testing.Kubernetes;

/// <summary>A request the fake API server refuses, answered as a Kubernetes <c>Status</c> object.</summary>
internal sealed class FakeApiException(int code, string reason, string message) : Exception(message)
{
    public int Code { get; } = code;

    public string Reason { get; } = reason;

    public JsonObject ToStatus() => Status(Code, Reason, Message);

    public static JsonObject Status(int code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    };
}
