using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing.Kubernetes;

/// <summary>Real Kestrel servers on 127.0.0.1 standing in for pods: GET /hello answers with the backend's name.</summary>
public sealed class LoopbackBackends : IAsyncDisposable
{
    private readonly List<WebApplication> _apps = [];

    /// <summary>Calls served, by backend name.</summary>
    public ConcurrentDictionary<string, int> Calls { get; } = new();

    /// <summary>Each backend's port.</summary>
    public Dictionary<string, int> Ports { get; } = [];

    /// <summary>Starts one backend per name.</summary>
    public static async Task<LoopbackBackends> StartAsync(params string[] names)
    {
        var backends = new LoopbackBackends();
        foreach (var name in names)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
            var app = builder.Build();
            app.MapGet("/hello", () =>
            {
                backends.Calls.AddOrUpdate(name, 1, (_, n) => n + 1);
                return Results.Text(name);
            });
            await app.StartAsync().ConfigureAwait(false);
            backends.Ports[name] = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            backends._apps.Add(app);
        }

        return backends;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
