using Microsoft.Extensions.Logging;

namespace Mesh.Client.Xds;

internal sealed partial class XdsClient
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Subscribing to xDS resource {TypeUrl} '{Name}'.")]
        public static partial void Subscribing(ILogger logger, string typeUrl, string name);

        [LoggerMessage(2, LogLevel.Debug, "Unsubscribing from xDS resource {TypeUrl} '{Name}'.")]
        public static partial void Unsubscribing(ILogger logger, string typeUrl, string name);

        [LoggerMessage(47, LogLevel.Debug, "Watching xDS resource {TypeUrl} '{Name}' again before its unsubscription went out; keeping it.")]
        public static partial void Resubscribed(ILogger logger, string typeUrl, string name);

        [LoggerMessage(3, LogLevel.Debug, "Opening ADS stream {StreamId} to {ServerUri}.")]
        public static partial void StreamStarting(ILogger logger, string serverUri, long streamId);

        [LoggerMessage(4, LogLevel.Warning, "ADS stream {StreamId} to {ServerUri} failed before any response: {Error}")]
        public static partial void StreamFailed(ILogger logger, string serverUri, long streamId, string error);

        [LoggerMessage(5, LogLevel.Information, "ADS stream {StreamId} to {ServerUri} ended after receiving responses ({Error}); reconnecting.")]
        public static partial void StreamClosedAfterResponse(ILogger logger, string serverUri, long streamId, string error);

        [LoggerMessage(6, LogLevel.Debug, "Reconnecting to {ServerUri} in {Delay} (attempt {Attempt}).")]
        public static partial void BackingOff(ILogger logger, string serverUri, TimeSpan delay, int attempt);

        [LoggerMessage(7, LogLevel.Debug, "Writing to the ADS stream to {ServerUri} failed: {Error}")]
        public static partial void WriteFailed(ILogger logger, string serverUri, string error);

        [LoggerMessage(8, LogLevel.Debug, "Sent {TypeUrl} request: version '{Version}', nonce '{Nonce}', {Count} names, NACK {IsNack}.")]
        public static partial void RequestSent(ILogger logger, string typeUrl, string version, string nonce, int count, bool isNack);

        [LoggerMessage(9, LogLevel.Debug, "Received {TypeUrl} response: version '{Version}', nonce '{Nonce}', {Count} resources.")]
        public static partial void ResponseReceived(ILogger logger, string typeUrl, string version, string nonce, int count);

        [LoggerMessage(10, LogLevel.Warning, "Received a response of type {TypeUrl}, which nothing watches; ignoring it.")]
        public static partial void UnexpectedType(ILogger logger, string typeUrl);

        [LoggerMessage(11, LogLevel.Warning, "Rejecting {TypeUrl} version '{Version}' (nonce '{Nonce}'): {Detail}")]
        public static partial void Nacking(ILogger logger, string typeUrl, string version, string nonce, string detail);

        [LoggerMessage(12, LogLevel.Warning, "xDS resource {TypeUrl} '{Name}' did not arrive within {Timeout}: it does not exist.")]
        public static partial void DoesNotExistTimeout(ILogger logger, string typeUrl, string name, TimeSpan timeout);

        [LoggerMessage(13, LogLevel.Information, "xDS resource {TypeUrl} '{Name}' was deleted in version '{Version}'.")]
        public static partial void ResourceDeleted(ILogger logger, string typeUrl, string name, string version);

        [LoggerMessage(14, LogLevel.Warning, "Ignoring the deletion of xDS resource {TypeUrl} '{Name}' (ignore_resource_deletion).")]
        public static partial void DeletionIgnored(ILogger logger, string typeUrl, string name);

        [LoggerMessage(15, LogLevel.Error, "A watcher of xDS resource {TypeUrl} '{Name}' threw.")]
        public static partial void WatcherFailed(ILogger logger, string typeUrl, string name, Exception exception);

        [LoggerMessage(16, LogLevel.Error, "The ADS connection loop failed.")]
        public static partial void ConnectionLoopFailed(ILogger logger, Exception exception);
    }
}
