using System.Net;
using Envoy.Config.Rbac.V3;
using Mesh.Server.Authorization;
using Microsoft.AspNetCore.Http;
using FilterRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;

namespace Mesh.Server.Tests.Authorization;

/// <summary>Builders for RBAC configurations and requests.</summary>
internal static class RbacTestRequests
{
    public static RbacPeer Productpage { get; } = RbacPeer.Create(["spiffe://cluster.local/ns/default/sa/productpage"], [], "CN=productpage");

    public static RbacPeer Ratings { get; } = RbacPeer.Create(["spiffe://cluster.local/ns/default/sa/ratings"], [], "CN=ratings");

    public static RbacRequest Request(
        string path = "/reviews.Reviews/GetReviews",
        RbacPeer? peer = null,
        string method = "POST",
        string? authority = "reviews:9080",
        HeaderDictionary? headers = null,
        int localPort = 9080,
        string localAddress = "127.0.0.1",
        string remoteAddress = "127.0.0.1") => new()
        {
            Method = method,
            Path = path,
            Authority = authority,
            Headers = headers,
            LocalPort = localPort,
            LocalAddress = IPAddress.Parse(localAddress),
            RemoteAddress = IPAddress.Parse(remoteAddress),
            Peer = peer ?? RbacPeer.Plaintext,
        };

    /// <summary>An engine with one policy named "p" of the given permission and principal.</summary>
    public static RbacEngine Engine(RBAC.Types.Action action, Permission permission, Principal? principal = null) =>
        RbacEngine.Compile(Config(action, ("p", permission, principal ?? new Principal { Any = true })));

    public static FilterRbac Config(RBAC.Types.Action action, params (string Name, Permission Permission, Principal Principal)[] policies)
    {
        var rules = new RBAC { Action = action };
        foreach (var (name, permission, principal) in policies)
        {
            rules.Policies[name] = new Policy { Permissions = { permission }, Principals = { principal } };
        }

        return new FilterRbac { Rules = rules };
    }

    /// <summary>Whether an ALLOW engine with a single permission (any principal) allows the request.</summary>
    public static bool PermissionMatches(Permission permission, in RbacRequest request) =>
        Engine(RBAC.Types.Action.Allow, permission).Evaluate(request).IsAllowed;

    /// <summary>Whether an ALLOW engine with a single principal (any permission) allows the request.</summary>
    public static bool PrincipalMatches(Principal principal, in RbacRequest request) =>
        Engine(RBAC.Types.Action.Allow, new Permission { Any = true }, principal).Evaluate(request).IsAllowed;
}
