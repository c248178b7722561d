using System.Diagnostics.CodeAnalysis;
using Mesh.Client.Resources;
using Mesh.Server.Authorization;
using Mesh.Xds;
using FilterRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;

namespace Mesh.Server.Listeners;

/// <summary>The RBAC filters of one filter chain's connection manager, compiled, in order (gRFC A41).</summary>
internal sealed class ChainAuthorization
{
    private ChainAuthorization(RbacEngineChain engines) => Engines = engines;

    /// <summary>The engines; a request must be allowed by every one.</summary>
    public RbacEngineChain Engines { get; }

    /// <summary>Compiles the RBAC filters of <paramref name="chain"/>; false with the first error when one does not compile.</summary>
    public static bool TryCompile(FilterChainResource chain, [NotNullWhen(true)] out ChainAuthorization? authorization, [NotNullWhen(false)] out string? error)
    {
        var engines = new List<RbacEngine>();
        foreach (var filter in chain.HttpFilters)
        {
            if (filter.TypeUrl != XdsTypeUrls.Rbac)
            {
                continue;
            }

            FilterRbac config;
            try
            {
                config = filter.Config.Unpack<FilterRbac>();
            }
            catch (Google.Protobuf.InvalidProtocolBufferException ex)
            {
                authorization = null;
                error = $"http filter '{filter.Name}' cannot be parsed: {ex.Message}";
                return false;
            }

            if (!RbacEngine.TryCompile(config, out var engine, out var errors))
            {
                authorization = null;
                error = $"http filter '{filter.Name}': {string.Join("; ", errors)}";
                return false;
            }

            engines.Add(engine);
        }

        authorization = new ChainAuthorization(engines.Count == 0 ? RbacEngineChain.Empty : new RbacEngineChain(engines));
        error = null;
        return true;
    }
}
