using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>Header changes on a request or a response (Istio's <c>HeaderOperations</c>): set replaces, add appends, remove drops.</summary>
public sealed record HeaderOperations
{
    /// <summary>No change.</summary>
    public static HeaderOperations None { get; } = new();

    /// <summary>Headers set, replacing any value present.</summary>
    public ImmutableArray<KeyValuePair<string, string>> Set { get; init; } = [];

    /// <summary>Headers added beside any value present.</summary>
    public ImmutableArray<KeyValuePair<string, string>> Add { get; init; } = [];

    /// <summary>Headers removed.</summary>
    public ImmutableArray<string> Remove { get; init; } = [];

    /// <summary>Whether nothing changes.</summary>
    public bool IsEmpty => Set.IsEmpty && Add.IsEmpty && Remove.IsEmpty;
}
