namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// A problem in user configuration, with everything needed to find it: the origin (file and line, or API path),
/// the resource, and the field.
/// </summary>
/// <param name="Origin">The file (and line) or API path the resource came from.</param>
/// <param name="Resource">The resource as <c>Kind namespace/name</c>, when known.</param>
/// <param name="Field">The path of the offending field inside the resource, for example <c>spec.http[0].route[1].weight</c>.</param>
/// <param name="Message">What is wrong.</param>
public sealed record ConfigError(string Origin, string? Resource, string? Field, string Message)
{
    /// <inheritdoc />
    public override string ToString()
    {
        var text = Origin;
        if (Resource is not null)
        {
            text += ": " + Resource;
        }

        if (Field is not null)
        {
            text += ": " + Field;
        }

        return text + ": " + Message;
    }
}
