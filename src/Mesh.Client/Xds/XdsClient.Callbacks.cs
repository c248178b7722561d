namespace Mesh.Client.Xds;

/// <summary>The watcher callback loop: one reader, so callbacks never overlap and never run under the lock.</summary>
internal sealed partial class XdsClient
{
    [ThreadStatic]
    private static bool t_inCallback;

    private enum CallbackKind
    {
        Changed,
        DoesNotExist,
        AmbientError,
        Flush,
    }

    /// <summary>Queues a callback for one watch. Called under the lock; the callback runs later, outside it.</summary>
    private void Schedule(WatchRegistration registration, CallbackKind kind, object? payload) =>
        _callbacks.Writer.TryWrite(new WatcherCallback(registration, kind, payload));

    /// <summary>Queues a callback for every watch of <paramref name="resource"/>.</summary>
    private void ScheduleAll(ResourceState resource, CallbackKind kind, object? payload)
    {
        foreach (var registration in resource.Watchers)
        {
            Schedule(registration, kind, payload);
        }
    }

    private async Task RunCallbacksAsync()
    {
        await foreach (var callback in _callbacks.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (callback.Kind == CallbackKind.Flush)
            {
                ((TaskCompletionSource)callback.Payload!).TrySetResult();
                continue;
            }

            var registration = callback.Registration!;
            if (registration.IsDisposed || Volatile.Read(ref _disposed))
            {
                continue;
            }

            t_inCallback = true;
            try
            {
                switch (callback.Kind)
                {
                    case CallbackKind.Changed:
                        registration.Watcher.OnResourceChanged(callback.Payload!);
                        break;
                    case CallbackKind.DoesNotExist:
                        registration.Watcher.OnResourceDoesNotExist();
                        break;
                    default:
                        registration.Watcher.OnAmbientError((string)callback.Payload!);
                        break;
                }
            }
            catch (Exception ex)
            {
                Log.WatcherFailed(_logger, registration.TypeUrl, registration.Name, ex);
            }
            finally
            {
                t_inCallback = false;
            }
        }
    }

    private readonly record struct WatcherCallback(WatchRegistration? Registration, CallbackKind Kind, object? Payload);
}
