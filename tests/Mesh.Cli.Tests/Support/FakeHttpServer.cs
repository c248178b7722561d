using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Cli.Tests.Support;

/// <summary>Kestrel on 127.0.0.1 answering fixed bodies by path and query: a control plane with canned debug JSON.</summary>
internal sealed class FakeHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeHttpServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<FakeHttpServer> StartAsync(IReadOnlyDictionary<string, (int Status, string Body)> routes, (int Status, string Body)? fallback = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.Run(async context =>
        {
            var key = context.Request.Path.Value + context.Request.QueryString.Value;
            if (!routes.TryGetValue(key, out var answer) && !routes.TryGetValue(context.Request.Path.Value!, out answer))
            {
                answer = fallback ?? (404, "not found: " + key);
            }

            context.Response.StatusCode = answer.Status;
            context.Response.ContentType = answer.Body.StartsWith('{') ? "application/json" : "text/plain";
            await context.Response.WriteAsync(answer.Body);
        });
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return new FakeHttpServer(app, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
