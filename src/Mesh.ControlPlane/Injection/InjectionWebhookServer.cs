using System.Net;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Kubernetes;
using Mesh.ControlPlane.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.ControlPlane.Injection;

/// <summary>
/// The injection webhook: HTTPS on <see cref="ControlPlaneOptions.WebhookPort"/> (15017) with a certificate from the mesh
/// CA, <c>POST /inject</c> only. It is a server of its own, separate from the xDS, TLS and HTTP ports, so nothing else
/// the control plane serves (debug pages, ADS, the CA) answers on it. It runs when the control plane reads a cluster.
/// </summary>
public sealed partial class InjectionWebhookServer : IHostedService, IAsyncDisposable
{
    /// <summary>The largest AdmissionReview read: 8 MiB (the API server's own request limit is 3 MiB).</summary>
    public const int MaxRequestBytes = 8 * 1024 * 1024;

    private readonly ControlPlaneOptions _options;
    private readonly InjectionOptions _injection;
    private readonly IServiceProvider _services;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private WebApplication? _app;

    /// <summary>Created by DI.</summary>
    public InjectionWebhookServer(IOptions<ControlPlaneOptions> options, IOptions<InjectionOptions> injection, IServiceProvider services, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(injection);
        ArgumentNullException.ThrowIfNull(loggers);
        _options = options.Value;
        _injection = injection.Value;
        _services = services;
        _loggers = loggers;
        _logger = loggers.CreateLogger<InjectionWebhookServer>();
    }

    /// <summary>The webhook's address once started, like <c>https://127.0.0.1:15017</c>; null when it does not run.</summary>
    public Uri? Address { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Kubernetes)
        {
            return;
        }

        var time = _services.GetRequiredService<TimeProvider>();
        var certificate = new WebhookCertificate(
            _services.GetRequiredService<CertificateAuthority>(), [.. _injection.ServiceDnsNames(_options.ClusterDomain)], time, _logger);
        var source = _services.GetRequiredService<KubernetesConfigSource>();
        var injector = new PodInjector(InjectionContext.From(_options, _injection), ns => NamespaceLabels(source, ns));
        var handler = new AdmissionReviewHandler(injector, _loggers.CreateLogger<AdmissionReviewHandler>());

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Replace(ServiceDescriptor.Singleton(_loggers));
        var address = IPAddress.Parse(_options.ListenAddress);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = MaxRequestBytes;
            kestrel.Listen(address, _options.WebhookPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(https => https.ServerCertificateSelector = (_, _) => certificate.Current);
            });
        });
        var app = builder.Build();
        app.MapPost("/inject", async context =>
        {
            var body = await ReadBodyAsync(context.Request).ConfigureAwait(false);
            var review = body is null
                ? handler.Refuse(null, "the request body is larger than 8 MiB")
                : handler.Review(body);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(review.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
        });
        app.MapFallback(context =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Log.Listening(_logger, Address, _injection.EffectiveServiceName + "." + _injection.ServiceNamespace + ".svc");
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        try
        {
            await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted).ConfigureAwait(false);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException)
        {
            return null;
        }

        return buffer.ToArray();
    }

    private static Dictionary<string, string>? NamespaceLabels(KubernetesConfigSource source, string @namespace)
    {
        foreach (var item in source.Objects(KubernetesKind.Namespace))
        {
            if (item["metadata"]?["name"]?.GetValue<string>() == @namespace)
            {
                var labels = new Dictionary<string, string>(StringComparer.Ordinal);
                if (item["metadata"]?["labels"] is JsonObject map)
                {
                    foreach (var (key, value) in map)
                    {
                        if (value is JsonValue v && v.TryGetValue<string>(out var text))
                        {
                            labels[key] = text;
                        }
                    }
                }

                return labels;
            }
        }

        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "The injection webhook listens on {Address} (POST /inject), for the API server as {Service}.")]
        public static partial void Listening(ILogger logger, Uri address, string service);
    }
}
