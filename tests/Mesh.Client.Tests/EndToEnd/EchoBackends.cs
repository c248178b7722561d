using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// Real Kestrel HTTP/1.1 servers on 127.0.0.1 that answer every request with what they received: each backend records
/// the requests (name, path and query, Host, headers) and answers "name path" with a response header
/// <c>x-backend-secret</c>, so tests can see rewrites, header changes and mirrored copies.
/// </summary>
public sealed class EchoBackends : IAsyncDisposable
{
    private readonly List<WebApplication> _apps = [];

    /// <summary>Every request received, by backend.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<EchoedRequest>> Requests { get; } = new();

    public Dictionary<string, int> Ports { get; } = [];

    public int Count(string name) => Requests.TryGetValue(name, out var queue) ? queue.Count : 0;

    public static async Task<EchoBackends> StartAsync(params string[] names)
    {
        var backends = new EchoBackends();
        foreach (var name in names)
        {
            await backends.AddAsync(name, 0);
        }

        return backends;
    }

    private readonly Dictionary<string, WebApplication> _byName = [];

    /// <summary>Stops one backend (its port is kept, so <see cref="RestartAsync"/> can listen there again).</summary>
    public async Task StopAsync(string name)
    {
        var app = _byName[name];
        _byName.Remove(name);
        _apps.Remove(app);
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>Starts a stopped backend again on the port it had.</summary>
    public Task RestartAsync(string name) => AddAsync(name, Ports[name]);

    private async Task AddAsync(string name, int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port));
        var app = builder.Build();
        app.Run(async context =>
        {
            var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.Ordinal);
            var pathAndQuery = context.Request.Path + context.Request.QueryString;
            Requests.GetOrAdd(name, _ => new ConcurrentQueue<EchoedRequest>()).Enqueue(new EchoedRequest(pathAndQuery, context.Request.Host.Value ?? string.Empty, headers));
            context.Response.Headers["x-backend-secret"] = "s3cret";
            context.Response.Headers["x-resp-add"] = "from-backend";
            await context.Response.WriteAsync($"{name} {pathAndQuery}");
        });
        await app.StartAsync();
        Ports[name] = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        _apps.Add(app);
        _byName[name] = app;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}

/// <summary>A request as a backend received it.</summary>
public sealed record EchoedRequest(string PathAndQuery, string Host, IReadOnlyDictionary<string, string> Headers);
