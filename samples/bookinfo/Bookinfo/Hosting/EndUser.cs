using Grpc.Core;

namespace Bookinfo.Hosting;

/// <summary>
/// The <c>end-user</c> request header: productpage sets it from the signed-in user, and every service passes it on to
/// the services it calls, so routing rules (VirtualService <c>match: headers: end-user</c>) see it at every hop.
/// </summary>
internal static class EndUser
{
    public const string Header = "end-user";

    /// <summary>Headers for an outgoing call on behalf of <paramref name="user"/> (none when nobody is signed in).</summary>
    public static Metadata? Headers(string? user) =>
        string.IsNullOrEmpty(user) ? null : new Metadata { { Header, user } };

    /// <summary>The end user of an incoming call, if it named one.</summary>
    public static string? From(ServerCallContext context) => context.RequestHeaders.GetValue(Header);
}
