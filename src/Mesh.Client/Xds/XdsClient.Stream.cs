using System.Threading.Channels;
using Envoy.Admin.V3;
using Envoy.Service.Discovery.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Diagnostics;

namespace Mesh.Client.Xds;

/// <summary>The ADS stream: connecting with backoff, writing requests, handling responses, does-not-exist timers.</summary>
internal sealed partial class XdsClient
{
    /// <summary>google.rpc.Code.INVALID_ARGUMENT, the code of a NACK's error_detail.</summary>
    private const int InvalidArgument = 3;

    /// <summary>How long a call whose write failed may take to end by itself before it is cancelled.</summary>
    private static readonly TimeSpan WriteFailureGrace = TimeSpan.FromSeconds(5);

    private long _nextStreamId;

    private GrpcChannel CreateChannel(Bootstrap.XdsServerConfig server)
    {
        // An HttpClient (rather than a handler) makes Grpc.Net.Client skip its subchannel layer and its own
        // reconnect backoff: every stream attempt dials, fails fast when the server is unreachable, and the
        // backoff below is the only retry layer. HTTP/2 keepalive PINGs notice a half-open connection.
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(20),
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = KeepAliveInterval,
            KeepAlivePingTimeout = KeepAliveTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
        };
        XdsChannelCredentials.Apply(server, handler);
        HttpMessageHandler outer = server.CallCredentialsTokenFile is { } tokenFile ? new BearerTokenFileHandler(tokenFile) { InnerHandler = handler } : handler;
        var httpClient = new HttpClient(outer) { Timeout = Timeout.InfiniteTimeSpan };
        return GrpcChannel.ForAddress(server.GetAddress(), new GrpcChannelOptions
        {
            HttpClient = httpClient,
            DisposeHttpClient = true,
            LoggerFactory = _loggerFactory,
            MaxReceiveMessageSize = null,
        });
    }

    private async Task RunConnectionLoopAsync(CancellationToken cancellationToken)
    {
        var backoff = new XdsBackoff(BackoffPolicy, JitterSource);
        while (!cancellationToken.IsCancellationRequested)
        {
            GrpcChannel channel;
            int index;
            lock (_lock)
            {
                channel = _channel!;
                index = _serverIndex;
            }

            var client = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel);
            bool receivedResponse;
            using (var abandon = new CancellationTokenSource())
            {
                // gRFC A71: on a fallback server, keep trying the primary; once it answers, go back to it.
                var probe = index > 0 ? ProbePrimaryAsync(abandon, cancellationToken) : Task.CompletedTask;
                receivedResponse = await RunStreamAsync(client, cancellationToken, abandon.Token).ConfigureAwait(false);
                await abandon.CancelAsync().ConfigureAwait(false);
                await probe.ConfigureAwait(false);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            lock (_lock)
            {
                if (_switchTo is { } target)
                {
                    _switchTo = null;
                    SwitchServerLocked(target, "the primary answers again");
                    backoff.Reset();
                    continue;
                }

                // gRFC A71: the server failed before any response and a watched resource is missing: the next
                // server in the bootstrap, at once. Resources already held stay in use meanwhile.
                if (!receivedResponse && index + 1 < _servers.Count && AnyResourceMissingLocked())
                {
                    SwitchServerLocked(index + 1, "the server cannot be reached and resources are missing");
                    continue;
                }

                if (!receivedResponse && index > 0 && index + 1 >= _servers.Count)
                {
                    // Every fallback failed too: start over at the primary after the backoff.
                    SwitchServerLocked(0, "every fallback failed");
                }
            }

            if (receivedResponse)
            {
                // The server closing a stream that worked is routine (max connection age, rebalancing):
                // reconnect at once and start the backoff over.
                backoff.Reset();
                continue;
            }

            var delay = backoff.Next();
            Log.BackingOff(_logger, _server.ServerUri, delay, backoff.Attempts);
            var wait = Task.Delay(delay, _time, cancellationToken);
            lock (_lock)
            {
                // Published once the delay's timer exists, so a status reader may advance a fake clock past it.
                _retryDelay = delay;
                _nextAttemptAt = _time.GetUtcNow() + delay;
            }

            try
            {
                await wait.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private bool AnyResourceMissingLocked()
    {
        foreach (var typeState in _types.Values)
        {
            foreach (var resource in typeState.Resources.Values)
            {
                if (resource.Value is null && resource.Status != ClientResourceStatus.DoesNotExist)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Moves to server <paramref name="index"/>: a new channel, and versions start over (they are per server).</summary>
    private void SwitchServerLocked(int index, string reason)
    {
        var from = _server.ServerUri;
        _serverIndex = index;
        _server = _servers[index];
        _channel?.Dispose();
        _channel = CreateChannel(_server);
        foreach (var typeState in _types.Values)
        {
            typeState.AckedVersion = string.Empty;
        }

        Log.ServerSwitched(_logger, from, _server.ServerUri, index == 0 ? "primary" : "fallback", reason);
    }

    /// <summary>
    /// While the stream runs on a fallback: every <see cref="PrimaryRetryInterval"/>, opens a stream to the primary and
    /// asks for what is watched; the first response means the primary is back, and the fallback stream is abandoned.
    /// </summary>
    private async Task ProbePrimaryAsync(CancellationTokenSource abandon, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(abandon.Token, cancellationToken);
        var token = linked.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(PrimaryRetryInterval, _time, token).ConfigureAwait(false);
                using var channel = CreateChannel(_servers[0]);
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(token);
                attempt.CancelAfter(KeepAliveInterval + KeepAliveTimeout);
                using var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources(cancellationToken: attempt.Token);
                DiscoveryRequest request;
                lock (_lock)
                {
                    var typeState = _types.Values.FirstOrDefault(t => t.Resources.Count > 0);
                    if (typeState is null)
                    {
                        continue;
                    }

                    request = new DiscoveryRequest { Node = _node, TypeUrl = typeState.Type.TypeUrl };
                    request.ResourceNames.AddRange(typeState.Resources.Keys.Order(StringComparer.Ordinal));
                }

                await call.RequestStream.WriteAsync(request, attempt.Token).ConfigureAwait(false);
                if (await call.ResponseStream.MoveNext(attempt.Token).ConfigureAwait(false))
                {
                    lock (_lock)
                    {
                        _switchTo = 0;
                    }

                    await abandon.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is RpcException or OperationCanceledException or IOException or HttpRequestException or InvalidOperationException)
            {
                Log.PrimaryStillDown(_logger, _servers[0].ServerUri, Describe(ex));
            }
        }
    }

    /// <summary>Runs one stream to its end; returns whether it received at least one response.</summary>
    private async Task<bool> RunStreamAsync(AggregatedDiscoveryService.AggregatedDiscoveryServiceClient client, CancellationToken cancellationToken, CancellationToken abandon)
    {
        using var streamCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, abandon);
        var streamId = Interlocked.Increment(ref _nextStreamId);
        AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> call;
        try
        {
            call = client.StreamAggregatedResources(cancellationToken: streamCts.Token);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            lock (_lock)
            {
                RecordStreamEnd(streamId, receivedResponse: false, Describe(ex));
            }

            return false;
        }

        var stream = new AdsStream(streamId, call);
        lock (_lock)
        {
            if (_disposed)
            {
                call.Dispose();
                return false;
            }

            _stream = stream;
            _streamsStarted++;
            _state = XdsConnectionState.Connecting;
            MeshClientDiagnostics.ConnectionStateChanges.Add(1, new KeyValuePair<string, object?>(MeshClientDiagnostics.StateTag, "connecting"));
            _retryDelay = null;
            _nextAttemptAt = null;

            // A new stream starts over on nonces but keeps the accepted versions, and resubscribes everything.
            foreach (var typeState in _types.Values)
            {
                typeState.Nonce = string.Empty;
                typeState.SentOnStream = false;
                typeState.PendingReplies = 0;
                if (typeState.Resources.Count > 0)
                {
                    typeState.PendingWrite = true;
                    stream.Enqueue(WriteItem.Subscription(typeState.Type.TypeUrl));
                }
            }
        }

        Log.StreamStarting(_logger, _server.ServerUri, stream.Id);
        var writer = RunWriterAsync(stream, streamCts);
        string? error = null;
        try
        {
            await foreach (var response in call.ResponseStream.ReadAllAsync(streamCts.Token).ConfigureAwait(false))
            {
                stream.ReceivedResponse = true;
                HandleResponse(stream, response);
            }

            error = "the server closed the stream";
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // A failed write cancels a lingering call; then the write's error is the real one. Otherwise the
            // call's own status is.
            var cancelledByWriter = stream.WriteError is not null
                && ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled };
            error = cancelledByWriter ? stream.WriteError : Describe(ex);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // Disposing.
        }
        finally
        {
            await streamCts.CancelAsync().ConfigureAwait(false);
            stream.Complete();
            await writer.ConfigureAwait(false);
            call.Dispose();
        }

        OnStreamEnded(stream, error ?? "the client is shutting down");
        return stream.ReceivedResponse;
    }

    private async Task RunWriterAsync(AdsStream stream, CancellationTokenSource streamCts)
    {
        try
        {
            await foreach (var item in stream.Reader.ReadAllAsync(streamCts.Token).ConfigureAwait(false))
            {
                if (BuildRequest(stream, item) is not { } request)
                {
                    continue;
                }

                // The first write completes only once the connection is up and the request headers went out.
                await stream.Call.RequestStream.WriteAsync(request, streamCts.Token).ConfigureAwait(false);
                OnRequestSent(stream, request);
            }
        }
        catch (OperationCanceledException) when (streamCts.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            stream.WriteError = Describe(ex);
            Log.WriteFailed(_logger, _server.ServerUri, stream.WriteError);

            // A write fails when the call is ending; its status (more telling than the write's error) reaches
            // the reader shortly. Cancel the call only if it somehow lingers, so that it is never left half-open.
            try
            {
                await Task.Delay(WriteFailureGrace, _time, streamCts.Token).ConfigureAwait(false);
                await streamCts.CancelAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Builds the request for <paramref name="item"/> from the current state, or null when none is due.</summary>
    private DiscoveryRequest? BuildRequest(AdsStream stream, WriteItem item)
    {
        lock (_lock)
        {
            if (_stream != stream || _disposed || !_types.TryGetValue(item.TypeUrl, out var typeState))
            {
                return null;
            }

            if (item.Kind == WriteKind.Subscription)
            {
                // Nothing changed since the last request; or an ACK/NACK is queued and will carry the names
                // (a request with the new nonce but no error_detail would read as an ACK of a rejected response).
                if (!typeState.PendingWrite || typeState.PendingReplies > 0)
                {
                    return null;
                }
            }
            else
            {
                typeState.PendingReplies--;
            }

            PurgeDroppedLocked(typeState);

            // The first request of a type on a stream never goes out empty: an empty list would be a wildcard.
            if (typeState.Resources.Count == 0 && !typeState.SentOnStream)
            {
                typeState.PendingWrite = false;
                return null;
            }

            var request = new DiscoveryRequest { TypeUrl = item.TypeUrl };
            if (item.Kind == WriteKind.Subscription)
            {
                request.VersionInfo = typeState.AckedVersion;
                request.ResponseNonce = typeState.Nonce;
            }
            else
            {
                request.VersionInfo = item.Version!;
                request.ResponseNonce = item.Nonce!;
                if (item.Error is { } error)
                {
                    request.ErrorDetail = new Google.Rpc.Status { Code = InvalidArgument, Message = error };
                }
            }

            request.ResourceNames.AddRange(typeState.Resources.Keys.Order(StringComparer.Ordinal));
            typeState.PendingWrite = false;
            typeState.SentOnStream = true;
            if (!stream.NodeSent)
            {
                request.Node = _node;
                stream.NodeSent = true;
            }

            return request;
        }
    }

    /// <summary>Removes the resources whose last watcher left: the request being built leaves them out. Called under the lock.</summary>
    private static void PurgeDroppedLocked(TypeState typeState)
    {
        List<string>? dropped = null;
        foreach (var resource in typeState.Resources.Values)
        {
            if (resource.Dropping)
            {
                resource.StopTimer();
                (dropped ??= []).Add(resource.Name);
            }
        }

        if (dropped is not null)
        {
            foreach (var name in dropped)
            {
                typeState.Resources.Remove(name);
            }
        }
    }

    private void OnRequestSent(AdsStream stream, DiscoveryRequest request)
    {
        Log.RequestSent(_logger, request.TypeUrl, request.VersionInfo, request.ResponseNonce, request.ResourceNames.Count, request.ErrorDetail is not null);
        lock (_lock)
        {
            if (_stream != stream || _disposed)
            {
                return;
            }

            if (_state == XdsConnectionState.Connecting)
            {
                _state = XdsConnectionState.Connected;
                MeshClientDiagnostics.ConnectionStateChanges.Add(1, new KeyValuePair<string, object?>(MeshClientDiagnostics.StateTag, "connected"));
            }

            if (!_types.TryGetValue(request.TypeUrl, out var typeState))
            {
                return;
            }

            // gRFC A57: the does-not-exist timer starts only once the request is out on a connected stream.
            foreach (var name in request.ResourceNames)
            {
                if (typeState.Resources.TryGetValue(name, out var resource) && resource.WatchState == XdsWatchState.NotSent)
                {
                    StartDoesNotExistTimer(resource);
                }
            }
        }
    }

    private void StartDoesNotExistTimer(ResourceState resource)
    {
        resource.StopTimer();
        resource.WatchState = XdsWatchState.Requested;
        var generation = ++resource.TimerGeneration;
        resource.Timer = _time.CreateTimer(
            _ => OnDoesNotExistTimer(resource, generation), null, DoesNotExistTimeout, Timeout.InfiniteTimeSpan);
    }

    private void OnDoesNotExistTimer(ResourceState resource, long generation)
    {
        lock (_lock)
        {
            if (_disposed
                || resource.WatchState != XdsWatchState.Requested
                || resource.TimerGeneration != generation
                || !_types.TryGetValue(resource.TypeUrl, out var typeState)
                || !typeState.Resources.TryGetValue(resource.Name, out var current)
                || current != resource)
            {
                return;
            }

            resource.StopTimer();
            resource.WatchState = XdsWatchState.TimedOut;
            resource.Status = ClientResourceStatus.DoesNotExist;
            resource.LastUpdated = _time.GetUtcNow();
            _doesNotExistTimeouts++;
            Log.DoesNotExistTimeout(_logger, resource.TypeUrl, resource.Name, DoesNotExistTimeout);
            ScheduleAll(resource, CallbackKind.DoesNotExist, null);
        }
    }

    private void OnStreamEnded(AdsStream stream, string error)
    {
        lock (_lock)
        {
            if (_stream == stream)
            {
                _stream = null;
            }

            // No timer runs while there is no stream; they start again when the requests go out on the next one.
            // A resource whose last watcher left is gone: the next stream subscribes only what is watched.
            foreach (var typeState in _types.Values)
            {
                PurgeDroppedLocked(typeState);
                foreach (var resource in typeState.Resources.Values)
                {
                    if (resource.WatchState == XdsWatchState.Requested)
                    {
                        resource.StopTimer();
                        resource.WatchState = XdsWatchState.NotSent;
                    }
                }
            }

            RecordStreamEnd(stream.Id, stream.ReceivedResponse, error);
        }
    }

    /// <summary>Records how a stream ended and tells the watchers when it is an error. Called under the lock.</summary>
    private void RecordStreamEnd(long streamId, bool receivedResponse, string error)
    {
        if (_disposed)
        {
            return;
        }

        _lastError = error;
        _lastErrorAt = _time.GetUtcNow();
        if (receivedResponse)
        {
            // gRFC A57: not an error once the stream has received a response; reconnect right away.
            _streamsClosedAfterResponse++;
            _consecutiveFailures = 0;
            _state = XdsConnectionState.Connecting;
            MeshClientDiagnostics.ConnectionStateChanges.Add(1, new KeyValuePair<string, object?>(MeshClientDiagnostics.StateTag, "connecting"));
            Log.StreamClosedAfterResponse(_logger, _server.ServerUri, streamId, error);
            return;
        }

        _streamsFailed++;
        _consecutiveFailures++;
        _state = XdsConnectionState.TransientFailure;

        // The server cannot be reached: what the persisted cache holds is better than nothing (before the errors
        // below, so that watchers see a value first).
        ServeAllFromCacheLocked();
        MeshClientDiagnostics.ConnectionStateChanges.Add(1, new KeyValuePair<string, object?>(MeshClientDiagnostics.StateTag, "transientfailure"));
        Log.StreamFailed(_logger, _server.ServerUri, streamId, error);
        var message = $"xDS stream to {_server.ServerUri} failed: {error}";
        foreach (var typeState in _types.Values)
        {
            foreach (var resource in typeState.Resources.Values)
            {
                ScheduleAll(resource, CallbackKind.AmbientError, message);
            }
        }
    }

    private void HandleResponse(AdsStream stream, DiscoveryResponse response)
    {
        using var activity = MeshClientDiagnostics.ActivitySource.StartActivity("mesh.xds.response");
        activity?.SetTag(MeshClientDiagnostics.TypeTag, response.TypeUrl);
        activity?.SetTag("mesh.xds.version", response.VersionInfo);
        activity?.SetTag("mesh.xds.resources", response.Resources.Count);
        Log.ResponseReceived(_logger, response.TypeUrl, response.VersionInfo, response.Nonce, response.Resources.Count);
        XdsResourceType? type;
        lock (_lock)
        {
            if (_stream != stream || _disposed)
            {
                return;
            }

            _responsesReceived++;
            if (_state != XdsConnectionState.Connected)
            {
                _state = XdsConnectionState.Connected;
                MeshClientDiagnostics.ConnectionStateChanges.Add(1, new KeyValuePair<string, object?>(MeshClientDiagnostics.StateTag, "connected"));
            }

            _consecutiveFailures = 0;
            OnLiveResponseLocked();
            type = _types.TryGetValue(response.TypeUrl, out var known) ? known.Type : null;
        }

        if (type is null)
        {
            // Never subscribed: neither ACK (it was not validated) nor NACK (it may be valid).
            Log.UnexpectedType(_logger, response.TypeUrl);
            return;
        }

        // Decoding is pure and may be slow: outside the lock.
        var decoded = new XdsDecodeResult[response.Resources.Count];
        for (var i = 0; i < decoded.Length; i++)
        {
            decoded[i] = Decode(type, response.Resources[i]);
        }

        RejectDuplicateNames(decoded);

        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (_stream != stream || _disposed)
            {
                return;
            }

            var typeState = _types[response.TypeUrl];
            var errors = new List<string>();
            var present = new HashSet<string>(StringComparer.Ordinal);
            var unnamedError = false;
            for (var i = 0; i < decoded.Length; i++)
            {
                var result = decoded[i];
                if (!result.IsSuccess)
                {
                    _resourcesRejected++;
                    if (string.IsNullOrEmpty(result.Name))
                    {
                        unnamedError = true;
                        errors.Add($"resource [{i}]: {result.Error}");
                        continue;
                    }

                    errors.Add($"'{result.Name}': {result.Error}");
                    present.Add(result.Name);
                    if (typeState.Resources.TryGetValue(result.Name, out var rejected))
                    {
                        Reject(rejected, response.VersionInfo, result.Error!, now);
                    }

                    continue;
                }

                _resourcesAccepted++;
                MeshClientDiagnostics.ResourceUpdates.Add(1, new KeyValuePair<string, object?>(MeshClientDiagnostics.TypeTag, response.TypeUrl));
                present.Add(result.Name!);
                if (typeState.Resources.TryGetValue(result.Name!, out var accepted))
                {
                    Accept(accepted, response.Resources[i], result.Resource!, response.VersionInfo, now);
                }
            }

            // Listeners and clusters come whole in every response: one the client had that is missing was deleted.
            // Unless a rejected resource had no readable name (it might be the missing one), or the server asks
            // for deletions to be ignored (gRFC A53). Never-received names are left to the does-not-exist timer:
            // this response may predate their subscription.
            if (typeState.Type.AllResourcesRequiredInSotW && !unnamedError)
            {
                foreach (var resource in typeState.Resources.Values)
                {
                    if (resource.Value is not null && !present.Contains(resource.Name))
                    {
                        if (_server.IgnoreResourceDeletion)
                        {
                            Log.DeletionIgnored(_logger, resource.TypeUrl, resource.Name);
                            continue;
                        }

                        Delete(resource, response.VersionInfo, now);
                    }
                }
            }

            typeState.Nonce = response.Nonce;
            WriteItem reply;
            if (errors.Count == 0)
            {
                typeState.AckedVersion = response.VersionInfo;
                _acks++;
                reply = WriteItem.Reply(response.TypeUrl, response.VersionInfo, response.Nonce, null);
            }
            else
            {
                var detail = $"{errors.Count} of {decoded.Length} resources rejected in version '{response.VersionInfo}': {string.Join("; ", errors)}";
                typeState.LastNackDetail = detail;
                typeState.LastNackVersion = response.VersionInfo;
                typeState.LastNackAt = now;
                _nacks++;
                MeshClientDiagnostics.Nacks.Add(1, new KeyValuePair<string, object?>(MeshClientDiagnostics.TypeTag, response.TypeUrl));
                activity?.SetTag("mesh.xds.nack", detail);
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, "NACK");
                Log.Nacking(_logger, response.TypeUrl, response.VersionInfo, response.Nonce, detail);
                reply = WriteItem.Reply(response.TypeUrl, typeState.AckedVersion, response.Nonce, detail);
            }

            typeState.PendingReplies++;
            stream.Enqueue(reply);
            EnqueueCacheWriteLocked(typeState);
        }
    }

    private void Accept(ResourceState resource, Any raw, object value, string version, DateTimeOffset now)
    {
        resource.StopTimer();
        resource.WatchState = XdsWatchState.Received;
        var changed = resource.Raw is null || !resource.Raw.Equals(raw);
        if (changed)
        {
            resource.Raw = raw;
            resource.Value = value;
        }

        resource.Version = version;
        resource.Status = ClientResourceStatus.Acked;
        resource.LastUpdated = now;
        resource.CachedSavedAt = null;
        resource.ErrorDetail = null;
        resource.ErrorVersion = null;
        resource.ErrorAt = null;
        if (changed)
        {
            ScheduleAll(resource, CallbackKind.Changed, value);
        }
    }

    private void Reject(ResourceState resource, string version, string error, DateTimeOffset now)
    {
        resource.StopTimer();
        resource.WatchState = XdsWatchState.Received;
        var repeated = resource.Status == ClientResourceStatus.Nacked && resource.ErrorDetail == error;
        resource.Status = ClientResourceStatus.Nacked;
        resource.ErrorDetail = error;
        resource.ErrorVersion = version;
        resource.ErrorAt = now;
        if (!repeated)
        {
            // The cached version, if any, stays in use.
            ScheduleAll(resource, CallbackKind.AmbientError, NackMessage(resource.TypeUrl, resource.Name, version, error));
        }
    }

    private void Delete(ResourceState resource, string version, DateTimeOffset now)
    {
        resource.Raw = null;
        resource.Value = null;
        resource.CachedSavedAt = null;
        resource.Version = version;
        resource.Status = ClientResourceStatus.DoesNotExist;
        resource.LastUpdated = now;
        resource.ErrorDetail = null;
        resource.ErrorVersion = null;
        resource.ErrorAt = null;
        Log.ResourceDeleted(_logger, resource.TypeUrl, resource.Name, version);
        ScheduleAll(resource, CallbackKind.DoesNotExist, null);
    }

    /// <summary>
    /// A name that appears more than once in one response is ambiguous: every copy is rejected, so the last good
    /// version stays in use and the NACK names it.
    /// </summary>
    private static void RejectDuplicateNames(XdsDecodeResult[] decoded)
    {
        if (decoded.Length < 2)
        {
            return;
        }

        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var result in decoded)
        {
            if (!string.IsNullOrEmpty(result.Name))
            {
                counts[result.Name] = counts.GetValueOrDefault(result.Name) + 1;
            }
        }

        for (var i = 0; i < decoded.Length; i++)
        {
            if (decoded[i].Name is { Length: > 0 } name && counts[name] > 1)
            {
                decoded[i] = XdsDecodeResult.Failure(name, $"the resource appears {counts[name]} times in the response");
            }
        }
    }

    private static XdsDecodeResult Decode(XdsResourceType type, Any raw)
    {
        try
        {
            var result = type.Decode(raw);
            if (result.IsSuccess)
            {
                return string.IsNullOrEmpty(result.Name) ? XdsDecodeResult.Failure(null, "the decoder returned no name") : result;
            }

            return result.Error is null ? XdsDecodeResult.Failure(result.Name, "the decoder returned no resource") : result;
        }
        catch (Exception ex)
        {
            return XdsDecodeResult.Failure(null, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    private static string Describe(Exception exception) => exception switch
    {
        RpcException rpc => $"{rpc.StatusCode}: {rpc.Status.Detail}",
        _ => $"{exception.GetType().Name}: {exception.Message}",
    };

    private enum WriteKind
    {
        /// <summary>The subscribed names changed.</summary>
        Subscription,

        /// <summary>An ACK or NACK of a response.</summary>
        Reply,
    }

    /// <summary>Something to write; a subscription's contents are read from the state when it is written.</summary>
    private readonly record struct WriteItem(WriteKind Kind, string TypeUrl, string? Version, string? Nonce, string? Error)
    {
        public static WriteItem Subscription(string typeUrl) => new(WriteKind.Subscription, typeUrl, null, null, null);

        public static WriteItem Reply(string typeUrl, string version, string nonce, string? error) =>
            new(WriteKind.Reply, typeUrl, version, nonce, error);
    }

    /// <summary>One ADS stream and its queue of requests to write.</summary>
    private sealed class AdsStream(long id, AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> call)
    {
        private readonly Channel<WriteItem> _writes =
            Channel.CreateUnbounded<WriteItem>(new UnboundedChannelOptions { SingleReader = true });

        public long Id { get; } = id;

        public AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> Call { get; } = call;

        public ChannelReader<WriteItem> Reader => _writes.Reader;

        /// <summary>The node went out (on the first request). Writer only.</summary>
        public bool NodeSent { get; set; }

        public bool ReceivedResponse { get; set; }

        public string? WriteError { get; set; }

        public void Enqueue(WriteItem item) => _writes.Writer.TryWrite(item);

        public void Complete() => _writes.Writer.TryComplete();
    }
}
