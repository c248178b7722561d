namespace Mesh.ControlPlane.Model;

/// <summary>A query parameter condition; <see cref="Condition"/> null means "present".</summary>
/// <param name="Name">The parameter's name.</param>
/// <param name="Condition">The condition on its value.</param>
public sealed record QueryParameterCondition(string Name, StringCondition? Condition);
