using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>The CORS policy of a route (Istio's <c>CorsPolicy</c>); browsers' preflights are answered by proxies, not by gRPC clients.</summary>
public sealed record CorsPolicyModel
{
    /// <summary>The origins allowed.</summary>
    public ImmutableArray<StringCondition> AllowOrigins { get; init; } = [];

    /// <summary>The methods allowed.</summary>
    public ImmutableArray<string> AllowMethods { get; init; } = [];

    /// <summary>The request headers allowed.</summary>
    public ImmutableArray<string> AllowHeaders { get; init; } = [];

    /// <summary>The response headers exposed.</summary>
    public ImmutableArray<string> ExposeHeaders { get; init; } = [];

    /// <summary>How long a preflight may be cached, if set.</summary>
    public TimeSpan? MaxAge { get; init; }

    /// <summary>Whether credentials are allowed, if set.</summary>
    public bool? AllowCredentials { get; init; }
}
