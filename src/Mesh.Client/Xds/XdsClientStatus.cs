using Envoy.Admin.V3;
using Envoy.Service.Status.V3;
using Google.Protobuf.WellKnownTypes;
using Node = Envoy.Config.Core.V3.Node;

namespace Mesh.Client.Xds;

/// <summary>
/// A snapshot of an <see cref="XdsClient"/>: the connection, each subscribed type, each watched resource, and
/// counters. What CSDS (gRFC A40) and the /debug pages show.
/// </summary>
/// <param name="ServerUri">The xDS server the client talks to.</param>
/// <param name="Connection">The ADS stream's state.</param>
/// <param name="Types">Per type URL: versions, nonce, subscribed names, last NACK.</param>
/// <param name="Resources">Per watched resource, ordered by type URL then name.</param>
/// <param name="Counters">Totals since the client was created.</param>
internal sealed record XdsClientStatus(
    string ServerUri,
    XdsConnectionStatus Connection,
    IReadOnlyList<XdsTypeStatus> Types,
    IReadOnlyList<XdsResourceStatus> Resources,
    XdsClientCounters Counters)
{
    /// <summary>The resource <paramref name="name"/> of <paramref name="typeUrl"/>, or null when it is not watched.</summary>
    public XdsResourceStatus? Find(string typeUrl, string name)
    {
        foreach (var resource in Resources)
        {
            if (resource.TypeUrl == typeUrl && resource.Name == name)
            {
                return resource;
            }
        }

        return null;
    }

    /// <summary>This status as a CSDS <c>ClientConfig</c> (gRFC A40), one <c>GenericXdsConfig</c> per resource.</summary>
    /// <param name="node">The node to report, normally the one the client sends.</param>
    /// <param name="excludeResourceContents">Leave out the resources themselves (<c>xds_config</c>).</param>
    public ClientConfig ToClientConfig(Node node, bool excludeResourceContents = false)
    {
        var config = new ClientConfig { Node = node };
        foreach (var resource in Resources)
        {
            var generic = new ClientConfig.Types.GenericXdsConfig
            {
                TypeUrl = resource.TypeUrl,
                Name = resource.Name,
                VersionInfo = resource.Version,
                ClientStatus = resource.Status,
            };
            if (!excludeResourceContents && resource.LastValid is { } raw)
            {
                generic.XdsConfig = raw.Clone();
            }

            if (resource.LastUpdated is { } updated)
            {
                generic.LastUpdated = Timestamp.FromDateTimeOffset(updated);
            }

            if (resource.CachedSavedAt is { } savedAt && resource.ErrorDetail is null)
            {
                // CSDS has no status for "from a local cache": say it in the error state, which tools show.
                generic.ErrorState = new UpdateFailureState
                {
                    Details = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"served from the local xDS cache saved at {savedAt:O}: the xDS server cannot be reached"),
                    VersionInfo = resource.Version,
                    LastUpdateAttempt = Timestamp.FromDateTimeOffset(savedAt),
                };
            }

            if (resource.ErrorDetail is { } detail)
            {
                generic.ErrorState = new UpdateFailureState
                {
                    Details = detail,
                    VersionInfo = resource.ErrorVersion ?? string.Empty,
                };
                if (resource.ErrorAt is { } at)
                {
                    generic.ErrorState.LastUpdateAttempt = Timestamp.FromDateTimeOffset(at);
                }
            }

            config.GenericXdsConfigs.Add(generic);
        }

        return config;
    }
}

/// <summary>The state of the ADS stream.</summary>
internal enum XdsConnectionState
{
    /// <summary>Nothing watched yet: no stream.</summary>
    Idle,

    /// <summary>A stream is opening; no request has gone out on it yet.</summary>
    Connecting,

    /// <summary>A stream is open: a request went out or a response came in.</summary>
    Connected,

    /// <summary>The last stream failed; waiting out the backoff before the next attempt.</summary>
    TransientFailure,

    /// <summary>The client was disposed.</summary>
    Shutdown,
}

/// <summary>The ADS stream's state and recent trouble.</summary>
/// <param name="State">The state.</param>
/// <param name="LastError">Why the last stream ended, if one did.</param>
/// <param name="LastErrorAt">When it ended.</param>
/// <param name="ConsecutiveFailures">Stream attempts in a row that ended without a response.</param>
/// <param name="RetryDelay">The backoff delay being waited out, in <see cref="XdsConnectionState.TransientFailure"/>.</param>
/// <param name="NextAttemptAt">When the next attempt starts, in <see cref="XdsConnectionState.TransientFailure"/>.</param>
internal sealed record XdsConnectionStatus(
    XdsConnectionState State,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    int ConsecutiveFailures,
    TimeSpan? RetryDelay,
    DateTimeOffset? NextAttemptAt)
{
    /// <summary>The persisted cache's directory, when one is configured.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Since when the client serves cached configuration because the server cannot be reached; null when live.</summary>
    public DateTimeOffset? ServingCachedSince { get; init; }

    /// <summary>Why cache files were ignored at start (corrupt, another node's), one line each.</summary>
    public IReadOnlyList<string> CacheProblems { get; init; } = [];
}

/// <summary>What the client has subscribed to and acknowledged for one type.</summary>
/// <param name="TypeUrl">The type.</param>
/// <param name="AckedVersion">The last version accepted (sent as version_info); empty before the first.</param>
/// <param name="Nonce">The nonce of the last response on the current stream; empty on a new stream.</param>
/// <param name="SubscribedNames">The names subscribed, sorted.</param>
/// <param name="LastNackDetail">The error_detail of the last NACK, if any.</param>
/// <param name="LastNackVersion">The version of the response last NACKed.</param>
/// <param name="LastNackAt">When it was NACKed.</param>
internal sealed record XdsTypeStatus(
    string TypeUrl,
    string AckedVersion,
    string Nonce,
    IReadOnlyList<string> SubscribedNames,
    string? LastNackDetail,
    string? LastNackVersion,
    DateTimeOffset? LastNackAt);

/// <summary>One watched resource, as CSDS reports it.</summary>
/// <param name="TypeUrl">The type.</param>
/// <param name="Name">The name.</param>
/// <param name="Version">The version of the response the cached resource came in; empty before one did.</param>
/// <param name="Status">REQUESTED, DOES_NOT_EXIST, ACKED or NACKED.</param>
/// <param name="LastValid">The last valid resource as received, null when none is cached.</param>
/// <param name="ErrorDetail">Why the last update was rejected, while <see cref="Status"/> is NACKED.</param>
/// <param name="ErrorVersion">The version of the rejected update.</param>
/// <param name="ErrorAt">When it was rejected.</param>
/// <param name="LastUpdated">When the cached resource (or its deletion) arrived.</param>
/// <param name="WatcherCount">How many watches are open on it.</param>
/// <param name="WatchState">Where its does-not-exist timer stands.</param>
internal sealed record XdsResourceStatus(
    string TypeUrl,
    string Name,
    string Version,
    ClientResourceStatus Status,
    Any? LastValid,
    string? ErrorDetail,
    string? ErrorVersion,
    DateTimeOffset? ErrorAt,
    DateTimeOffset? LastUpdated,
    int WatcherCount,
    XdsWatchState WatchState)
{
    /// <summary>When the value came from the persisted cache: when the cache file was saved; null for live values.</summary>
    public DateTimeOffset? CachedSavedAt { get; init; }
}

/// <summary>Where a resource's does-not-exist timer stands.</summary>
internal enum XdsWatchState
{
    /// <summary>Not yet requested on a connected stream: no timer.</summary>
    NotSent,

    /// <summary>Requested on a connected stream; the timer runs.</summary>
    Requested,

    /// <summary>The server sent it (valid or not); no timer.</summary>
    Received,

    /// <summary>The timer fired: it does not exist.</summary>
    TimedOut,
}

/// <summary>Totals since the client was created.</summary>
/// <param name="StreamsStarted">ADS streams opened.</param>
/// <param name="StreamsFailed">Streams that ended without receiving a response (connectivity errors, gRFC A57).</param>
/// <param name="StreamsClosedAfterResponse">Streams that ended after receiving a response (not an error).</param>
/// <param name="ResponsesReceived">Discovery responses received.</param>
/// <param name="Acks">Responses accepted.</param>
/// <param name="Nacks">Responses rejected.</param>
/// <param name="ResourcesAccepted">Resources decoded as valid.</param>
/// <param name="ResourcesRejected">Resources decoded as invalid.</param>
/// <param name="DoesNotExistTimeouts">Does-not-exist timers that fired.</param>
internal sealed record XdsClientCounters(
    long StreamsStarted,
    long StreamsFailed,
    long StreamsClosedAfterResponse,
    long ResponsesReceived,
    long Acks,
    long Nacks,
    long ResourcesAccepted,
    long ResourcesRejected,
    long DoesNotExistTimeouts);
