using Mesh.Client.Resources;

namespace Mesh.Gateway.Configuration;

/// <summary>
/// One Gateway server port as the gateway follows it over xDS: the listener <c>0.0.0.0_&lt;port&gt;</c> in force
/// (the last one whose certificates loaded), the route configuration it names, and the watches that keep them current.
/// </summary>
internal sealed class GatewayPort(int port)
{
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The server port number.</summary>
    public int Port { get; } = port;

    /// <summary>The listener's name, as istiod names a gateway's (<c>0.0.0.0_8080</c>).</summary>
    public string ListenerName { get; } = "0.0.0.0_" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The port as the value of <see cref="GatewayDefaults.ServerPortHeader"/>.</summary>
    public string PortText { get; } = port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The listener in force, or null (none yet, or deleted).</summary>
    public ListenerResource? Listener { get; set; }

    /// <summary>The route configuration the listener names, as last received.</summary>
    public RouteConfigResource? Routes { get; set; }

    /// <summary>The name of the route configuration watched.</summary>
    public string? RouteName { get; set; }

    /// <summary>The watch of the listener.</summary>
    public IDisposable? ListenerWatch { get; set; }

    /// <summary>The watch of the route configuration.</summary>
    public IDisposable? RouteWatch { get; set; }

    /// <summary>Where the port listens: Kestrel's listen options, whose endpoint holds the bound port once started.</summary>
    public Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions? ListenOptions { get; set; }

    /// <summary>Why the port cannot serve, when it cannot (a missing listener, certificates that do not load).</summary>
    public string? Error { get; set; }

    /// <summary>Completes when the first listener arrives or is known not to exist.</summary>
    public Task FirstListener => _first.Task;

    /// <summary>Marks the first answer about the listener.</summary>
    public void Answered() => _first.TrySetResult();
}
