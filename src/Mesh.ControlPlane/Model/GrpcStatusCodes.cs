namespace Mesh.ControlPlane.Model;

/// <summary>gRPC status codes by the names Istio accepts in <c>abort.grpcStatus</c>.</summary>
internal static class GrpcStatusCodes
{
    private static readonly string[] Names =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    /// <summary>Every name, in code order, for messages.</summary>
    public static string AllNames { get; } = string.Join(", ", Names);

    /// <summary>
    /// The code for a name like <c>UNAVAILABLE</c>, or <see langword="null"/>. As in Istio's validation, only the
    /// exact upper-case name is accepted: not a number, not another spelling.
    /// </summary>
    public static int? Parse(string text)
    {
        var index = Array.IndexOf(Names, text);
        return index >= 0 ? index : null;
    }
}
