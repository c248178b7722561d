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

    /// <summary>The namespace of the leader-election Lease. Default: the pod's namespace (<c>POD_NAMESPACE</c>), else <c>mesh-system</c>.</summary>
    public string LeaseNamespace { get; set; } = Environment.GetEnvironmentVariable("POD_NAMESPACE") is { Length: > 0 } ns ? ns : "mesh-system";

    /// <summary>The name of the leader-election Lease. Default <c>mesh-controlplane</c>.</summary>
    public string LeaseName { get; set; } = "mesh-controlplane";

    /// <summary>This replica's identity in the Lease. Default: the pod name (<c>POD_NAME</c>), else the host name, plus a random suffix.</summary>
    public string Identity { get; set; } =
        (Environment.GetEnvironmentVariable("POD_NAME") is { Length: > 0 } pod ? pod : Environment.MachineName) + "-" + Guid.NewGuid().ToString("N")[..6];

    /// <summary>How long a Lease holds without renewal before another replica may take it. Default 15 s.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the leader keeps trying to renew before it gives up leading. Default 10 s.</summary>
    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the Lease is tried or renewed. Default 2 s.</summary>
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the leader compares the validation results with the resources' status. Default 1 s.</summary>
    public TimeSpan StatusInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The kinds to watch. Default <see cref="KubernetesKind.All"/>.</summary>
    public IReadOnlyList<KubernetesKind> Kinds { get; set; } = KubernetesKind.All;
}
