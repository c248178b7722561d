namespace Mesh.Client.Xds;

/// <summary>
/// Receives the updates of one watched xDS resource. Calls are serial (never two at once, across every watcher of
/// an <see cref="XdsClient"/>) and never made while the client holds a lock, so an implementation may call
/// <see cref="XdsClient.Watch"/> or dispose a watch. Keep them short: they delay every other watcher.
/// </summary>
internal interface IXdsWatcher
{
    /// <summary>A new valid version of the resource, or the cached one right after the watch starts.</summary>
    /// <param name="resource">The decoded resource, as <see cref="XdsResourceType.Decode"/> returned it.</param>
    void OnResourceChanged(object resource);

    /// <summary>
    /// The resource was deleted, or did not arrive within the does-not-exist timeout (15 s) after it was requested
    /// on a connected stream.
    /// </summary>
    void OnResourceDoesNotExist();

    /// <summary>
    /// Trouble that does not invalidate what the watcher has: the stream to the xDS server failed, or an update of
    /// this resource was rejected (NACKed). Keep using the last resource received, if any.
    /// </summary>
    /// <param name="message">What went wrong, for logs and status.</param>
    void OnAmbientError(string message);
}
