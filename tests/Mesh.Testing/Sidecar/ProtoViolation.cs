namespace Mesh.Testing.Sidecar;

/// <summary>One problem with a served resource: where it is (resource, then a field path) and what is wrong.</summary>
/// <param name="Resource">The resource's type and name.</param>
/// <param name="Path">The field path inside it.</param>
/// <param name="Message">What is wrong.</param>
public sealed record ProtoViolation(string Resource, string Path, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Resource} {Path}: {Message}";
}
