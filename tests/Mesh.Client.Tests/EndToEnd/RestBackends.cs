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
/// Real Kestrel HTTP/1.1 servers on 127.0.0.1: GET /hello answers with the backend's name. Scripted by call id:
/// GET /flaky/{id} fails the first try of about half the ids with 503, GET /slow-first/{id} makes the first try take
/// 500 ms, POST /echo/{id} fails the first try with 503 and then echoes the body; each records the tries it saw and
/// their x-envoy-attempt-count.
/// </summary>
public sealed class RestBackends : IAsyncDisposable
{
    private readonly List<WebApplication> _apps = [];

    public ConcurrentDictionary<string, int> Calls { get; } = new();

    public Dictionary<string, int> Ports { get; } = [];

    /// <summary>Backends that answer 503 to every request while listed here.</summary>
    public ConcurrentDictionary<string, bool> Failing { get; } = new();

    /// <summary>Tries seen per call id.</summary>
    public ConcurrentDictionary<string, int> Attempts { get; } = new();

    /// <summary>The x-envoy-attempt-count values seen per call id, in arrival order ("-" when absent).</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<string>> AttemptCounts { get; } = new();

    private int Record(string name, string id, HttpContext context)
    {
        Calls.AddOrUpdate(name, 1, (_, n) => n + 1);
        AttemptCounts.GetOrAdd(id, _ => new()).Enqueue(context.Request.Headers["x-envoy-attempt-count"].FirstOrDefault() ?? "-");
        return Attempts.AddOrUpdate(id, 1, (_, n) => n + 1);
    }

    public static async Task<RestBackends> StartAsync(params string[] names)
    {
        var backends = new RestBackends();
        foreach (var name in names)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
            var app = builder.Build();
            app.MapGet("/hello", (HttpContext context) =>
            {
                backends.Calls.AddOrUpdate(name, 1, (_, n) => n + 1);
                return backends.Failing.ContainsKey(name) ? Results.StatusCode(503) : Results.Text($"{name} {context.Request.Host}");
            });
            app.MapGet("/flaky", () =>
            {
                backends.Calls.AddOrUpdate(name, 1, (_, n) => n + 1);
                return Random.Shared.Next(2) == 0 ? Results.StatusCode(503) : Results.Text(name);
            });
            app.MapGet("/flaky/{id}", (string id, HttpContext context) =>
                backends.Record(name, id, context) == 1 && id.GetHashCode(StringComparison.Ordinal) % 2 == 0 ? Results.StatusCode(503) : Results.Text(name));
            app.MapGet("/slow-first/{id}", async (string id, HttpContext context) =>
            {
                if (backends.Record(name, id, context) == 1)
                {
                    await Task.Delay(500, context.RequestAborted);
                }

                return name;
            });
            app.MapPost("/echo/{id}", async (string id, HttpContext context) =>
            {
                using var reader = new StreamReader(context.Request.Body);
                var body = await reader.ReadToEndAsync(context.RequestAborted);
                return backends.Record(name, id, context) == 1 ? Results.StatusCode(503) : Results.Text($"{body}|{context.Request.ContentLength?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "chunked"}");
            });
            app.MapGet("/slow/{ms:int}", async (int ms) =>
            {
                backends.Calls.AddOrUpdate(name, 1, (_, n) => n + 1);
                await Task.Delay(ms);
                return name;
            });
            app.MapGet("/slow", async () =>
            {
                backends.Calls.AddOrUpdate(name, 1, (_, n) => n + 1);
                await Task.Delay(500);
                return name;
            });
            await app.StartAsync();
            backends.Ports[name] = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            backends._apps.Add(app);
        }

        return backends;
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
