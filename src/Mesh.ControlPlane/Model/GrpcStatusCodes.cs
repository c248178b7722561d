namespace Mesh.ControlPlane.Model;

/// <summary>gRPC status codes by the names Istio uses in <c>abort.grpcStatus</c>.</summary>
internal static class GrpcStatusCodes
{
    private static readonly string[] Names =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    /// <summary>The code for a name like <c>UNAVAILABLE</c> (or a number as text), or <see langword="null"/>.</summary>
    public static int? Parse(string text)
    {
        var index = Array.IndexOf(Names, text.Trim().ToUpperInvariant());
        if (index >= 0)
        {
            return index;
        }

        return int.TryParse(text, out var number) && number is >= 0 and <= 16 ? number : null;
    }
}
