namespace Mesh.ControlPlane.Kubernetes;

/// <summary>One kind's informer as /debug shows it.</summary>
/// <param name="Kind">The kind.</param>
/// <param name="State">Where its list/watch stands.</param>
/// <param name="Objects">How many objects are cached.</param>
/// <param name="ResourceVersion">The resourceVersion the cache is at, or null before the first list.</param>
/// <param name="Since">When the state last changed.</param>
/// <param name="LastError">The last failure, when there was one.</param>
/// <param name="Relists">How many times the kind was listed (the first list, and every relist after 410 Gone or a failure).</param>
public sealed record InformerStatus(KubernetesKind Kind, InformerState State, int Objects, string? ResourceVersion, DateTimeOffset Since, string? LastError, int Relists);
