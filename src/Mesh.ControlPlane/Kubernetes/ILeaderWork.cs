namespace Mesh.ControlPlane.Kubernetes;

/// <summary>Singleton work the leading replica does each status round (after the status writes), such as keeping the webhook's caBundle current.</summary>
internal interface ILeaderWork
{
    /// <summary>One round; called about every <see cref="KubernetesSourceOptions.StatusInterval"/> while this replica leads.</summary>
    Task RunAsync(CancellationToken cancellationToken);
}
