using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.Injection;

/// <summary>What the injector decided for one pod: inject (the pod as it should be), skip (allowed unchanged), or refuse.</summary>
internal sealed record InjectionOutcome(InjectionOutcome.Kind Result, string Reason, string? Template = null, JsonObject? Pod = null)
{
    public enum Kind
    {
        Injected,
        Skipped,
        Refused,
    }

    public static InjectionOutcome Injected(string template, JsonObject pod) => new(Kind.Injected, "injected the " + template + " template", template, pod);

    public static InjectionOutcome Skipped(string reason) => new(Kind.Skipped, reason);

    public static InjectionOutcome Refused(string reason) => new(Kind.Refused, reason);
}
