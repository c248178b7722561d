namespace Mesh.ControlPlane.Kubernetes;

/// <summary>Timing and scope of the Kubernetes source; the defaults suit a real cluster.</summary>
public sealed class KubernetesSourceOptions
{
    /// <summary>The first wait after a failed list or watch; doubled on each failure in a row. Default 200 ms.</summary>
    public TimeSpan BackoffInitial { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest wait between retries after failures. Default 30 s.</summary>
    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a missing kind (CRD not installed) or a forbidden one is tried again. Default 30 s.</summary>
    public TimeSpan RetryUnavailableKind { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long start-up waits for the first list of every kind before it goes on without. Default 30 s.</summary>
    public TimeSpan InitialSyncTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The page size of lists. Default 500, as client-go's informers.</summary>
    public int PageSize { get; set; } = 500;

    /// <summary>The server-side timeout asked for on each watch (the server closes the watch then, and it is resumed). Default 5 min.</summary>
    public TimeSpan WatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A label selector on Namespaces (<c>key=value,other=value</c>): when set, only objects in namespaces whose labels
    /// match are handed to the model, as Istio's <c>discoverySelectors</c> and the <c>mesh.io/discoveryNamespaces</c>
    /// convention do. Cluster-scoped objects are not filtered.
    /// </summary>
    public string? DiscoverySelector { get; set; }

    /// <summary>The kinds to watch. Default <see cref="KubernetesKind.All"/>.</summary>
    public IReadOnlyList<KubernetesKind> Kinds { get; set; } = KubernetesKind.All;
}
