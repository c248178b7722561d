namespace Mesh.Cli.Analyze;

/// <summary>One finding of <c>mesh analyze</c>, in istioctl's shape: level, code, the resource, and a message.</summary>
/// <param name="Level">Error, Warning or Info.</param>
/// <param name="Code">The message code (Istio's IST codes where Istio has one, MSH codes for Mesh's own).</param>
/// <param name="Name">The message's name, for example <c>ReferencedResourceNotFound</c>.</param>
/// <param name="Resource">The resource as <c>Kind namespace/name</c>, when known.</param>
/// <param name="Origin">The file and line it came from.</param>
/// <param name="Field">The offending field's path inside the resource, when known.</param>
/// <param name="Message">What is wrong.</param>
internal sealed record Diagnostic(DiagnosticLevel Level, string Code, string Name, string? Resource, string Origin, string? Field, string Message)
{
    /// <summary>The line istioctl would print: <c>Error [IST0101] (VirtualService default/reviews file.yaml:3) spec.http[0]…: message</c>.</summary>
    public override string ToString()
    {
        var where = Resource is null ? Origin : $"{Resource} {Origin}";
        return $"{Level} [{Code}] ({where}) {(Field is null ? string.Empty : Field + ": ")}{Message}";
    }
}
