using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;

namespace Mesh.Client.LoadBalancing;

/// <summary>
/// The request URI of a call sent to a picked endpoint: the call's URI with the endpoint's host and port, as a
/// <c>UriBuilder</c> makes it — built once per (call URI, endpoint address) and reused, instead of a <c>UriBuilder</c>
/// and a new <see cref="Uri"/> (parsed again by SocketsHttpHandler) on every call. The URIs of an address live as long
/// as its <see cref="DnsEndPoint"/>; each address keeps a bounded number, past which URIs are built per call as before.
/// </summary>
internal static class EndpointRequestUri
{
    private const int MaxPerAddress = 256;

    private static readonly ConditionalWeakTable<DnsEndPoint, AddressUris> ByAddress = new();

    /// <summary>
    /// gRPC: points <paramref name="request"/> (whose URI is <paramref name="uri"/>) at <paramref name="address"/>.
    /// Grpc.Net.Client's balancer leaves a request alone whose host and port already are the picked address, so setting
    /// the cached URI at the pick spares its per-call rewrite. Grpc.Net.Client keeps one URI per method and channel,
    /// which is the key here (by reference).
    /// </summary>
    public static void Apply(HttpRequestMessage request, Uri uri, DnsEndPoint address)
    {
        if (!uri.IsAbsoluteUri)
        {
            return;
        }

        var uris = ByAddress.GetValue(address, static _ => new AddressUris()).Calls;
        if (!uris.TryGetValue(uri, out var rewritten))
        {
            rewritten = Build(uri, address);
            if (uris.Count < MaxPerAddress)
            {
                uris.TryAdd(uri, rewritten);
            }
        }

        request.RequestUri = rewritten;
    }

    /// <summary>
    /// HttpClient: <paramref name="target"/> (<c>http://reviews:9080/path?query</c>, a new <see cref="Uri"/> per request)
    /// with <paramref name="address"/>'s host and port. Reused per scheme and path-and-query as the request spelled them
    /// (the text after the authority), which alone decide the rest of the URI; a URI with user information is built each
    /// time.
    /// </summary>
    public static Uri ForHttp(Uri target, DnsEndPoint address)
    {
        if (!Routing.RequestUriText.TrySplit(target, out var https, out _, out var pathAndQuery))
        {
            return Build(target, address);
        }

        var holder = ByAddress.GetValue(address, static _ => new AddressUris());
        var uris = https ? holder.Https : holder.Http;
        var lookup = uris.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(pathAndQuery, out var rewritten))
        {
            return rewritten;
        }

        rewritten = Build(target, address);
        if (uris.Count < MaxPerAddress)
        {
            lookup.TryAdd(pathAndQuery, rewritten);
        }

        return rewritten;
    }

    private static Uri Build(Uri uri, DnsEndPoint address) => new UriBuilder(uri) { Host = address.Host, Port = address.Port }.Uri;

    private sealed class AddressUris
    {
        private ConcurrentDictionary<string, Uri>? _http;
        private ConcurrentDictionary<string, Uri>? _https;

        /// <summary>gRPC: the channel's call URI (by reference) → the URI at this address.</summary>
        public ConcurrentDictionary<Uri, Uri> Calls { get; } = new(ReferenceEqualityComparer.Instance);

        /// <summary>HttpClient, http: path and query → the URI at this address.</summary>
        public ConcurrentDictionary<string, Uri> Http => LazyInitializer.EnsureInitialized(ref _http, static () => new(StringComparer.Ordinal));

        /// <summary>HttpClient, https: path and query → the URI at this address.</summary>
        public ConcurrentDictionary<string, Uri> Https => LazyInitializer.EnsureInitialized(ref _https, static () => new(StringComparer.Ordinal));
    }
}
